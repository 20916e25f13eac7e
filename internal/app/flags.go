package app

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// flags declares callverifyd's settings on a pflag.FlagSet. Each setting is
// one call: a flag --name, and the environment variable envName(name),
// parsed by the same strict Value.Set.
type flags struct{ fs *pflag.FlagSet }

// envName is the environment variable of the flag name: grpc-addr is
// CALLVERIFY_GRPC_ADDR.
func envName(flag string) string {
	return "CALLVERIFY_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

func (f flags) add(v pflag.Value, name, usage string) *pflag.Flag {
	return f.fs.VarPF(v, name, "", usage+" (env "+envName(name)+")")
}

func (f flags) String(p *string, name, def, usage string) {
	*p = def
	f.add((*stringValue)(p), name, usage)
}

func (f flags) Bool(p *bool, name string, def bool, usage string) {
	*p = def
	f.add((*boolValue)(p), name, usage).NoOptDefVal = "true"
}

func (f flags) Int(p *int, name string, def int, usage string) {
	*p = def
	f.add((*intValue)(p), name, usage)
}

func (f flags) Float(p *float64, name string, def float64, usage string) {
	*p = def
	f.add((*floatValue)(p), name, usage)
}

func (f flags) Duration(p *time.Duration, name string, def time.Duration, usage string) {
	*p = def
	f.add((*durationValue)(p), name, usage)
}

// Strings is a comma-separated list; the flag may be repeated.
func (f flags) Strings(p *[]string, name string, def []string, usage string) {
	*p = def
	f.add(&stringsValue{p: p}, name, usage)
}

// The values' errors do not repeat the input: pflag and the environment
// reader say which flag or variable held what.

type stringValue string

func (v *stringValue) Set(s string) error { *v = stringValue(s); return nil }
func (v *stringValue) String() string     { return string(*v) }
func (v *stringValue) Type() string       { return "string" }

type boolValue bool

func (v *boolValue) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return errors.New("not true or false")
	}
	*v = boolValue(b)
	return nil
}
func (v *boolValue) String() string   { return strconv.FormatBool(bool(*v)) }
func (v *boolValue) Type() string     { return "bool" }
func (v *boolValue) IsBoolFlag() bool { return true }

type intValue int

func (v *intValue) Set(s string) error {
	n, err := strconv.Atoi(s) // base 10 only: "010" is ten, "0x10" an error
	if err != nil {
		return errors.New("not a whole number such as 10")
	}
	*v = intValue(n)
	return nil
}
func (v *intValue) String() string { return strconv.Itoa(int(*v)) }
func (v *intValue) Type() string   { return "int" }

type floatValue float64

func (v *floatValue) Set(s string) error {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return errors.New("not a number such as 0.5")
	}
	*v = floatValue(f)
	return nil
}
func (v *floatValue) String() string { return strconv.FormatFloat(float64(*v), 'g', -1, 64) }
func (v *floatValue) Type() string   { return "float64" }

type durationValue time.Duration

func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(s) // a unit is required: "5" is an error
	if err != nil {
		return errors.New("not a duration such as 10s, 5m or 1h30m")
	}
	*v = durationValue(d)
	return nil
}
func (v *durationValue) String() string { return time.Duration(*v).String() }
func (v *durationValue) Type() string   { return "duration" }

type stringsValue struct {
	p   *[]string
	set bool // the first Set replaces the default, later ones append
}

func (v *stringsValue) Set(s string) error {
	var out []string
	if v.set {
		out = *v.p
	}
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	*v.p, v.set = out, true
	return nil
}
func (v *stringsValue) String() string { return strings.Join(*v.p, ",") }
func (v *stringsValue) Type() string   { return "strings" }
