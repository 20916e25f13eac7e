package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/boombuler/barcode/qr"
	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
)

// newLookupCmd is the anonymous check of a number (IVR, people without
// the app): never VERIFIED, never anything about calls.
func (cl *cli) newLookupCmd() *cobra.Command {
	var lang string
	cmd := &cobra.Command{
		Use:   "lookup NUMBER",
		Short: "Anyone, no token: what is known about this number (never VERIFIED; rate-limited)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return unary(cl, cmd, anonymous, func(ctx context.Context, cc *grpc.ClientConn) (*callverifyv1.LookupNumberResponse, error) {
				return callverifyv1.NewVerifyServiceClient(cc).LookupNumber(ctx, &callverifyv1.LookupNumberRequest{Number: args[0], Language: lang})
			}, func(w io.Writer, r *callverifyv1.LookupNumberResponse) error {
				return printVerdict(w, r.GetVerdict(), r.GetNumber(), r.GetMessage(), r.GetBlocklistCategory(), "", r.GetAdvice())
			})
		},
	}
	cmd.Flags().StringVar(&lang, "language", "zh-CN", "zh-CN or en")
	return cmd
}

// printVerdict prints a verdict the way check and lookup share; call, when
// set, is the line about the verified call.
func printVerdict(w io.Writer, v callverifyv1.Verdict, number, message string, category callverifyv1.Category, call string, advice []string) error {
	fmt.Fprintf(w, "%s  %s\n%s\n", strings.TrimPrefix(v.String(), "VERDICT_"), number, message)
	if v == callverifyv1.Verdict_VERDICT_KNOWN_FRAUD {
		fmt.Fprintf(w, "category %s\n", strings.ToLower(strings.TrimPrefix(category.String(), "CATEGORY_")))
	}
	if call != "" {
		fmt.Fprintln(w, call)
	}
	for _, a := range advice {
		if _, err := fmt.Fprintln(w, "- "+a); err != nil {
			return err
		}
	}
	return nil
}

// newDevicesCmd manages the customer's authenticators.
func (cl *cli) newDevicesCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "devices", Short: "Authenticators that show codes with no network (role customer)"}
	var label string
	var invert bool
	enroll := &cobra.Command{
		Use:   "enroll [--label LABEL]",
		Short: "Enrol an authenticator: prints its QR code to scan with any authenticator app",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return unary(cl, cmd, withToken, func(ctx context.Context, cc *grpc.ClientConn) (*callverifyv1.EnrollDeviceResponse, error) {
				return callverifyv1.NewVerifyServiceClient(cc).EnrollDevice(ctx, &callverifyv1.EnrollDeviceRequest{Label: label})
			}, func(w io.Writer, r *callverifyv1.EnrollDeviceResponse) error {
				if err := printQR(w, r.GetOtpauthUri(), invert); err != nil {
					return err
				}
				return printf(w, "device    %s\notpauth   %s\n", r.GetDeviceId(), r.GetOtpauthUri())
			})
		},
	}
	enroll.Flags().StringVar(&label, "label", "", "a name for the device, shown in the authenticator app")
	enroll.Flags().BoolVar(&invert, "invert", false, "draw the QR code for a light terminal background")
	ls := &cobra.Command{
		Use: "ls", Short: "List the enrolled devices, newest first", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return unary(cl, cmd, withToken, func(ctx context.Context, cc *grpc.ClientConn) (*callverifyv1.ListDevicesResponse, error) {
				return callverifyv1.NewVerifyServiceClient(cc).ListDevices(ctx, &callverifyv1.ListDevicesRequest{})
			}, func(w io.Writer, r *callverifyv1.ListDevicesResponse) error {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "DEVICE\tLABEL\tENROLLED")
				for _, d := range r.GetDevices() {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", d.GetDeviceId(), d.GetLabel(), d.GetCreateTime().AsTime().Local().Format(time.DateTime))
				}
				return tw.Flush()
			})
		},
	}
	rm := &cobra.Command{
		Use: "rm DEVICE_ID", Short: "Remove a device: its codes stop working", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return unary(cl, cmd, withToken, func(ctx context.Context, cc *grpc.ClientConn) (*callverifyv1.DeleteDeviceRequest, error) {
				req := &callverifyv1.DeleteDeviceRequest{DeviceId: args[0]}
				_, err := callverifyv1.NewVerifyServiceClient(cc).DeleteDevice(ctx, req)
				return req, err
			}, func(w io.Writer, r *callverifyv1.DeleteDeviceRequest) error {
				return printf(w, "removed device %s\n", r.GetDeviceId())
			})
		},
	}
	cmd.AddCommand(enroll, ls, rm)
	return cmd
}

// printQR draws uri as a QR code with half blocks, two modules a line,
// with the quiet zone the standard asks for. Light modules are drawn, for
// the usual dark terminal; invert draws the dark ones instead.
func printQR(w io.Writer, uri string, invert bool) error {
	code, err := qr.Encode(uri, qr.M, qr.Auto)
	if err != nil {
		return fmt.Errorf("QR code: %w", err)
	}
	const quiet = 2
	size := code.Bounds().Dx()
	dark := func(x, y int) bool {
		x, y = x-quiet, y-quiet
		if x < 0 || y < 0 || x >= size || y >= size {
			return false
		}
		r, _, _, _ := code.At(x, y).RGBA()
		return r == 0
	}
	var b strings.Builder
	for y := 0; y < size+2*quiet; y += 2 {
		for x := 0; x < size+2*quiet; x++ {
			top, bottom := dark(x, y) == invert, dark(x, y+1) == invert
			switch {
			case top && bottom:
				b.WriteString("█")
			case top:
				b.WriteString("▀")
			case bottom:
				b.WriteString("▄")
			default:
				b.WriteByte(' ')
			}
		}
		b.WriteByte('\n')
	}
	_, err = io.WriteString(w, b.String())
	return err
}

// newPreferencesCmd shows or sets the customer's choices.
func (cl *cli) newPreferencesCmd() *cobra.Command {
	var marketing string
	cmd := &cobra.Command{
		Use:   "preferences [--marketing-calls allow|refuse]",
		Short: "Show the customer's preferences, or set whether marketing calls may verify (role customer)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := &callverifyv1.UpdatePreferencesRequest{}
			switch marketing {
			case "":
			case "allow", "refuse":
				req.MarketingCallsAllowed = new(marketing == "allow")
			default:
				return fmt.Errorf("--marketing-calls: %q is not allow or refuse", marketing)
			}
			return unary(cl, cmd, withToken, func(ctx context.Context, cc *grpc.ClientConn) (*callverifyv1.Preferences, error) {
				return callverifyv1.NewVerifyServiceClient(cc).UpdatePreferences(ctx, req)
			}, func(w io.Writer, p *callverifyv1.Preferences) error {
				return printf(w, "marketing calls allowed: %s\n", strconv.FormatBool(p.GetMarketingCallsAllowed()))
			})
		},
	}
	cmd.Flags().StringVar(&marketing, "marketing-calls", "", "allow or refuse marketing calls")
	return cmd
}
