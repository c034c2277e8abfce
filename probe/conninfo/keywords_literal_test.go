package conninfo

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// deliberatelyUnknown are keyword literals that are not libpq keywords on
// purpose, as "relative/path.go literal".
var deliberatelyUnknown = map[string]bool{
	"probe/conninfo/resolve_test.go nosuch": true, // Get of an unknown keyword returns ""
}

// TestKeywordLiterals catches a typo in a keyword read or written by name
// (s.Get("sslmdoe") silently reads ""): every call, anywhere in the module,
// of a Settings method that takes a keyword, with a string literal for it,
// must name a keyword of Keywords. Inside this package, s.vals["…"] is
// checked too. The receiver's type is not known from syntax alone: calls
// qualified by an imported package name (user.Lookup) are skipped, and a
// same-named method of another type would need an entry in
// deliberatelyUnknown.
func TestKeywordLiterals(t *testing.T) {
	pkgDir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root := moduleRoot(t, pkgDir)
	exported, unexported := keywordMethods(t, pkgDir)
	if len(exported) == 0 {
		t.Fatal("found no exported Settings method taking a keyword")
	}

	fset := token.NewFileSet()
	calls, outside := 0, 0
	allowed := map[string]bool{}
	check := func(path string, lit *ast.BasicLit, format string) {
		kw, err := strconv.Unquote(lit.Value)
		if err != nil {
			return // a rune literal or malformed: not a keyword
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if _, ok := LookupKeyword(kw); ok {
			return
		}
		if deliberatelyUnknown[rel+" "+kw] {
			allowed[rel+" "+kw] = true
			return
		}
		t.Errorf("%s:%d: "+format+": %q is not a libpq keyword", rel, fset.Position(lit.Pos()).Line, kw, kw)
	}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			if path != root {
				if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
					return filepath.SkipDir // another module
				}
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		inPkg := filepath.Dir(path) == pkgDir
		imported := importNames(f)
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if !ok || len(n.Args) == 0 {
					return true
				}
				if !exported[sel.Sel.Name] && !(inPkg && unexported[sel.Sel.Name]) {
					return true
				}
				if id, ok := sel.X.(*ast.Ident); ok && imported[id.Name] {
					return true // pkg.Func, not a method
				}
				lit, ok := n.Args[0].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				calls++
				if !inPkg {
					outside++
				}
				check(path, lit, sel.Sel.Name+"(%q, …)")
			case *ast.IndexExpr:
				if !inPkg || !isVals(n.X) {
					return true
				}
				if lit, ok := n.Index.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					calls++
					check(path, lit, "vals[%q]")
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for k := range deliberatelyUnknown {
		if !allowed[k] {
			t.Errorf("deliberatelyUnknown lists %q, which the walk did not find", k)
		}
	}
	// The walk must not silently find nothing: pgprobe's probe package
	// alone reads dozens of settings by name.
	if outside < 30 {
		t.Errorf("found only %d keyword literals outside package conninfo (%d in all) under %s; the walk is broken", outside, calls, root)
	}
}

// moduleRoot walks up from dir to the directory holding go.mod.
func moduleRoot(t *testing.T, dir string) string {
	t.Helper()
	for d := dir; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		parent := filepath.Dir(d)
		if parent == d {
			t.Fatalf("no go.mod above %s", dir)
		}
		d = parent
	}
}

// keywordMethods reads this package's source for the methods of *Settings
// whose first parameter is "keyword string", split by exported or not.
func keywordMethods(t *testing.T, pkgDir string) (exported, unexported map[string]bool) {
	t.Helper()
	exported, unexported = map[string]bool{}, map[string]bool{}
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(pkgDir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || len(fn.Type.Params.List) == 0 {
				continue
			}
			star, ok := fn.Recv.List[0].Type.(*ast.StarExpr)
			if !ok {
				continue
			}
			if id, ok := star.X.(*ast.Ident); !ok || id.Name != "Settings" {
				continue
			}
			first := fn.Type.Params.List[0]
			typ, ok := first.Type.(*ast.Ident)
			if !ok || typ.Name != "string" || first.Names[0].Name != "keyword" {
				continue
			}
			if fn.Name.IsExported() {
				exported[fn.Name.Name] = true
			} else {
				unexported[fn.Name.Name] = true
			}
		}
	}
	return exported, unexported
}

// importNames are the names a file's imports are known by.
func importNames(f *ast.File) map[string]bool {
	names := map[string]bool{}
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		elems := strings.Split(path, "/")
		name := elems[len(elems)-1]
		if len(elems) > 1 && len(name) > 1 && name[0] == 'v' && strings.Trim(name[1:], "0123456789") == "" {
			name = elems[len(elems)-2] // github.com/urfave/cli/v2 is cli
		}
		if imp.Name != nil {
			name = imp.Name.Name
		}
		names[name] = true
	}
	return names
}

// isVals reports whether x is vals or something.vals: Settings' map.
func isVals(x ast.Expr) bool {
	switch x := x.(type) {
	case *ast.Ident:
		return x.Name == "vals"
	case *ast.SelectorExpr:
		return x.Sel.Name == "vals"
	}
	return false
}
