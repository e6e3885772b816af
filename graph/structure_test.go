package graph

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestNoOpNameSwitches keeps what shears knows about an op in the op's
// spec: outside the op files, the ONNX codec, the model builders and the
// graph rewrite passes, no Go file may switch on, compare against or key a
// map by the names of the ops that used to be special-cased everywhere.
// Registering a rule for an op by name (prune.RegisterRule("Conv", …)) is
// the sanctioned table and is not flagged.
func TestNoOpNameSwitches(t *testing.T) {
	names := map[string]bool{"Conv": true, "Gemm": true, "MatMul": true, "BatchNormalization": true}
	allowed := func(rel string) bool {
		switch {
		case strings.HasPrefix(rel, "graph/op_"), strings.HasPrefix(rel, "backend/cpu/op_"),
			rel == "graph/fold.go", rel == "backend/cpu/blocked.go", rel == "backend/cpu/program.go":
			return true
		}
		for _, dir := range []string{"onnx/", "nn/", "zoo/"} {
			if strings.HasPrefix(rel, dir) {
				return true
			}
		}
		return false
	}
	root := ".."
	fset := token.NewFileSet()
	files := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if base := d.Name(); rel != "." && (strings.HasPrefix(base, ".") || base == "testdata" || base == "results") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") || allowed(rel) {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files++
		isName := func(e ast.Expr) bool {
			lit, ok := e.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return false
			}
			s, err := strconv.Unquote(lit.Value)
			return err == nil && names[s]
		}
		report := func(e ast.Expr, what string) {
			p := fset.Position(e.Pos())
			t.Errorf("%s:%d: %s op name %s (ask the op's spec, graph.OpSpec, or register a prune.Rule)", rel, p.Line, what, e.(*ast.BasicLit).Value)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CaseClause:
				for _, e := range n.List {
					if isName(e) {
						report(e, "switches on")
					}
				}
			case *ast.BinaryExpr:
				if n.Op == token.EQL || n.Op == token.NEQ {
					for _, e := range []ast.Expr{n.X, n.Y} {
						if isName(e) {
							report(e, "compares against")
						}
					}
				}
			case *ast.KeyValueExpr:
				if isName(n.Key) {
					report(n.Key, "keys a map by")
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 20 {
		t.Fatalf("read only %d Go files under %s: is the test running in the graph directory?", files, root)
	}
}
