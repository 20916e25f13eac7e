package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	// The generated files register the services' descriptors.
	_ "github.com/callverify/callverify/api/callverify/v1"
)

// rpcCommands is the command that calls each RPC. A new RPC fails
// TestEveryRPCHasACommand until it has a command and a row here; docs/cli.md
// lists the same rows (TestDocsListEveryCommand).
var rpcCommands = map[string]string{
	"callverify.v1.AdminService.CreateOfficialNumber": "callverify official create",
	"callverify.v1.AdminService.ListOfficialNumbers":  "callverify official list",
	"callverify.v1.AdminService.DeleteOfficialNumber": "callverify official delete",
	"callverify.v1.AdminService.RotateSigningKey":     "callverify keys rotate",
	"callverify.v1.AdminService.ListSigningKeys":      "callverify keys ls",

	"callverify.v1.BlocklistService.CreateEntry":           "callverify blocklist add",
	"callverify.v1.BlocklistService.GetEntry":              "callverify blocklist get",
	"callverify.v1.BlocklistService.UpdateEntry":           "callverify blocklist update",
	"callverify.v1.BlocklistService.DeleteEntry":           "callverify blocklist delete",
	"callverify.v1.BlocklistService.ListEntries":           "callverify blocklist list",
	"callverify.v1.BlocklistService.CheckNumber":           "callverify blocklist check",
	"callverify.v1.BlocklistService.ImportEntries":         "callverify blocklist import",
	"callverify.v1.BlocklistService.ExportEntries":         "callverify blocklist export",
	"callverify.v1.BlocklistService.ListReportedNumbers":   "callverify reports list",
	"callverify.v1.BlocklistService.ResolveReportedNumber": "callverify reports resolve",
	"callverify.v1.BlocklistService.ListAuditEvents":       "callverify audit list",

	"callverify.v1.CallService.StampCall":           "callverify call stamp",
	"callverify.v1.CallService.GetCall":             "callverify call get",
	"callverify.v1.CallService.EndCall":             "callverify call end",
	"callverify.v1.CallService.GetConfirmationCode": "callverify call code",
	"callverify.v1.CallService.ListCalls":           "callverify call ls",
	"callverify.v1.CallService.EndCalls":            "callverify call end-all",

	"callverify.v1.CallbackService.ListCallbacks": "callverify callbacks ls",
	"callverify.v1.CallbackService.ClaimCallback": "callverify callbacks claim",

	"callverify.v1.VerifyService.CheckCaller":       "callverify check",
	"callverify.v1.VerifyService.LookupNumber":      "callverify lookup",
	"callverify.v1.VerifyService.ListMyCalls":       "callverify me calls",
	"callverify.v1.VerifyService.ConfirmCode":       "callverify me confirm",
	"callverify.v1.VerifyService.VerifyToken":       "callverify token verify",
	"callverify.v1.VerifyService.ReportCaller":      "callverify report",
	"callverify.v1.VerifyService.EnrollDevice":      "callverify devices enroll",
	"callverify.v1.VerifyService.ListDevices":       "callverify devices ls",
	"callverify.v1.VerifyService.DeleteDevice":      "callverify devices rm",
	"callverify.v1.VerifyService.UpdatePreferences": "callverify preferences",
	"callverify.v1.VerifyService.WatchMyCalls":      "callverify watch",
	"callverify.v1.VerifyService.RequestCallback":   "callverify me callbacks request",
	"callverify.v1.VerifyService.ListMyCallbacks":   "callverify me callbacks ls",
	"callverify.v1.VerifyService.CancelCallback":    "callverify me callbacks cancel",
}

// apiRPCs is the full name of every RPC of every service of the API, read
// from the generated descriptors.
func apiRPCs(t *testing.T) []string {
	t.Helper()
	var rpcs []string
	protoregistry.GlobalFiles.RangeFilesByPackage("callverify.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := range fd.Services().Len() {
			sd := fd.Services().Get(i)
			for j := range sd.Methods().Len() {
				rpcs = append(rpcs, string(sd.Methods().Get(j).FullName()))
			}
		}
		return true
	})
	// Five services and 38 RPCs today: an empty walk would pass
	// every check below.
	if len(rpcs) < 30 {
		t.Fatalf("found %d RPCs in package callverify.v1; are the descriptors registered?", len(rpcs))
	}
	slices.Sort(rpcs)
	return rpcs
}

// findCommand is the command at path in root's tree, or nil.
func findCommand(root *cobra.Command, path string) *cobra.Command {
	args := strings.Fields(path)[1:]
	c, rest, err := root.Find(args)
	if err != nil || len(rest) != 0 || c.CommandPath() != path {
		return nil
	}
	return c
}

func TestEveryRPCHasACommand(t *testing.T) {
	t.Parallel()
	root := newRootCmd()
	rpcs := apiRPCs(t)
	for _, rpc := range rpcs {
		path, ok := rpcCommands[rpc]
		if !ok {
			t.Errorf("RPC %s has no command: add one and a row to rpcCommands and docs/cli.md", rpc)
			continue
		}
		c := findCommand(root, path)
		if c == nil {
			t.Errorf("RPC %s: no command %q in the tree", rpc, path)
			continue
		}
		if !c.Runnable() {
			t.Errorf("RPC %s: %q only groups other commands", rpc, path)
		}
	}
	for rpc := range rpcCommands {
		if !slices.Contains(rpcs, rpc) {
			t.Errorf("rpcCommands names %s, which the API does not have", rpc)
		}
	}
}

// Every command takes --json, and it is the root's: no command has a --json
// of its own that could mean something else.
func TestEveryCommandTakesTheRootsJSONFlag(t *testing.T) {
	t.Parallel()
	root := newRootCmd()
	want := root.PersistentFlags().Lookup("json")
	var walk func(*cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if !c.Runnable() || c.Name() == "help" || c.HasParent() && c.Parent().Name() == "completion" {
			return
		}
		n++
		if got := c.Flag("json"); got != want {
			t.Errorf("%s: --json is %v, not the root's", c.CommandPath(), got)
		}
	}
	walk(root)
	if n < len(rpcCommands) {
		t.Errorf("walked %d runnable commands, fewer than the %d RPCs", n, len(rpcCommands))
	}
}

// docs/cli.md, the CLI's reference, names every command with the RPC it
// calls, and the exit codes the root's help gives.
func TestDocsListEveryCommand(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "cli.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for rpc, path := range rpcCommands {
		short := rpc[strings.LastIndex(rpc, ".")+1:]
		if !strings.Contains(doc, "| `"+path+"` | `"+short+"` |") {
			t.Errorf("docs/cli.md has no row \"| `%s` | `%s` |\"", path, short)
		}
	}
	for _, line := range strings.Split(exitCodesHelp, "\n")[1:] {
		code, meaning, _ := strings.Cut(strings.TrimSpace(line), "  ")
		if !strings.Contains(doc, "| "+code+" | "+meaning+" |") {
			t.Errorf("docs/cli.md has no row \"| %s | %s |\"", code, meaning)
		}
	}
}

// Flags live in each command's closure or in the root's cli, never in the
// package, so that every root (and every parallel test) has its own.
func TestNoPackageLevelVariables(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, d := range f.Decls {
			if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.VAR {
				for _, s := range g.Specs {
					for _, n := range s.(*ast.ValueSpec).Names {
						if n.Name != "_" {
							t.Errorf("%s: package-level variable %s; keep state in a command's closure or in cli", fset.Position(n.Pos()), n.Name)
						}
					}
				}
			}
		}
	}
	if checked < 10 {
		t.Fatalf("checked %d files; is the test running in cmd/callverify?", checked)
	}
}
