//go:build ignore

// Generate writes the JSON schemas kubeconform checks deploy/k8s against,
// offline: only the kinds deploy/k8s uses, for one Kubernetes version, from
// that version's OpenAPI document (api/openapi-spec/swagger.json in the
// k8s.io/kubernetes module, fetched through the Go module proxy).
//
// Each schema is standalone (every $ref inlined) and strict (an object with
// known properties allows no others, so a misspelt field fails), without
// descriptions and without status, which a manifest never sets. Run from the
// repository root after changing the version or the kinds:
//
//	go run deploy/k8s/schemas/generate.go
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// kubernetes is the version the schemas describe; keep .ci/run's
// -kubernetes-version in step.
const kubernetes = "v1.36.3"

// kinds are the kinds deploy/k8s renders; a rendered kind missing here fails
// kubeconform, which is how a new kind is noticed.
var kinds = []struct{ group, version, kind string }{
	{"", "v1", "ConfigMap"},
	{"", "v1", "Service"},
	{"apps", "v1", "Deployment"},
	{"apps", "v1", "StatefulSet"},
	{"autoscaling", "v2", "HorizontalPodAutoscaler"},
	{"policy", "v1", "PodDisruptionBudget"},
}

func main() {
	if err := run("deploy/k8s/schemas"); err != nil {
		fmt.Fprintln(os.Stderr, "generate:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	out, err := exec.Command("go", "mod", "download", "-json", "k8s.io/kubernetes@"+kubernetes).Output()
	if err != nil {
		return fmt.Errorf("download k8s.io/kubernetes@%s: %w", kubernetes, err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil {
		return err
	}
	raw, err := os.ReadFile(filepath.Join(mod.Dir, "api", "openapi-spec", "swagger.json"))
	if err != nil {
		return err
	}
	var doc struct {
		Definitions map[string]map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("swagger.json: %w", err)
	}
	for _, k := range kinds {
		name, def := find(doc.Definitions, k.group, k.version, k.kind)
		if def == nil {
			return fmt.Errorf("%s/%s %s: not in swagger.json", k.group, k.version, k.kind)
		}
		c := converter{defs: doc.Definitions, open: map[string]bool{}}
		s, err := c.schema(map[string]any{"$ref": "#/definitions/" + name})
		if err != nil {
			return fmt.Errorf("%s: %w", k.kind, err)
		}
		props := s["properties"].(map[string]any)
		delete(props, "status")
		apiVersion := k.version
		if k.group != "" {
			apiVersion = k.group + "/" + k.version
		}
		props["apiVersion"] = map[string]any{"type": "string", "enum": []any{apiVersion}}
		props["kind"] = map[string]any{"type": "string", "enum": []any{k.kind}}
		s["required"] = union(s["required"], "apiVersion", "kind")
		s["$schema"] = "http://json-schema.org/draft-07/schema#"
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", " ")
		if err := enc.Encode(s); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, fileName(k.group, k.version, k.kind)), buf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// fileName is kubeconform's {{ .ResourceKind }}{{ .KindSuffix }}.json.
func fileName(group, version, kind string) string {
	suffix := "-" + version
	if group != "" {
		suffix = "-" + strings.Split(group, ".")[0] + suffix
	}
	return strings.ToLower(kind) + suffix + ".json"
}

func find(defs map[string]map[string]any, group, version, kind string) (string, map[string]any) {
	for name, def := range defs {
		gvks, _ := def["x-kubernetes-group-version-kind"].([]any)
		for _, g := range gvks {
			m := g.(map[string]any)
			if m["group"] == group && m["version"] == version && m["kind"] == kind {
				return name, def
			}
		}
	}
	return "", nil
}

// quantity is resource.Quantity's syntax: a signed decimal number with a
// binary (Ki..Ei) or decimal (n, u, m, k, M..E) suffix or an exponent.
const quantity = `^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)))?$`

type converter struct {
	defs map[string]map[string]any
	open map[string]bool // definitions being inlined, to refuse a cycle
}

// schema turns an OpenAPI v2 schema into a standalone JSON schema.
func (c converter) schema(in map[string]any) (map[string]any, error) {
	if ref, ok := in["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/definitions/")
		def, ok := c.defs[name]
		if !ok {
			return nil, fmt.Errorf("unknown $ref %s", ref)
		}
		// A quantity is written as a string or a bare number (cpu: 1); the
		// string is the API server's syntax, so 512MB (not 512M or 512Mi) fails.
		if name == "io.k8s.apimachinery.pkg.api.resource.Quantity" {
			return map[string]any{"oneOf": []any{
				map[string]any{"type": "string", "pattern": quantity},
				map[string]any{"type": "number"},
			}}, nil
		}
		if c.open[name] {
			return nil, fmt.Errorf("%s refers to itself", name)
		}
		c.open[name] = true
		defer delete(c.open, name)
		return c.schema(def)
	}
	if in["format"] == "int-or-string" {
		return map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}}, nil
	}
	out := map[string]any{}
	for _, key := range []string{"type", "enum", "required"} {
		if v, ok := in[key]; ok {
			out[key] = v
		}
	}
	if items, ok := in["items"].(map[string]any); ok {
		s, err := c.schema(items)
		if err != nil {
			return nil, err
		}
		out["items"] = s
	}
	for _, key := range []string{"allOf", "anyOf", "oneOf"} {
		list, ok := in[key].([]any)
		if !ok {
			continue
		}
		var conv []any
		for _, e := range list {
			s, err := c.schema(e.(map[string]any))
			if err != nil {
				return nil, err
			}
			conv = append(conv, s)
		}
		out[key] = conv
	}
	switch ap := in["additionalProperties"].(type) {
	case map[string]any:
		s, err := c.schema(ap)
		if err != nil {
			return nil, err
		}
		out["additionalProperties"] = s
	case bool:
		out["additionalProperties"] = ap
	}
	if props, ok := in["properties"].(map[string]any); ok {
		conv := map[string]any{}
		for name, p := range props {
			s, err := c.schema(p.(map[string]any))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			conv[name] = s
		}
		out["properties"] = conv
		if _, ok := out["additionalProperties"]; !ok {
			out["additionalProperties"] = false // strict
		}
	}
	return out, nil
}

func union(v any, add ...string) []any {
	list, _ := v.([]any)
	for _, a := range add {
		found := false
		for _, e := range list {
			found = found || e == a
		}
		if !found {
			list = append(list, a)
		}
	}
	return list
}
