package config

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// MaxWhenLen bounds a when: expression.
const MaxWhenLen = 1000

// CompileWhen compiles a when: expression against env (see ExprEnv): it
// must be a bool over known names. It returns the program and the names it
// reads, sorted. Errors are one line ("unknown name foo (column 1)").
func CompileWhen(when string, env map[string]any) (*vm.Program, []string, error) {
	if strings.TrimSpace(when) == "" {
		return nil, nil, errors.New("is empty")
	}
	if len(when) > MaxWhenLen {
		return nil, nil, fmt.Errorf("is %d bytes, longer than %d", len(when), MaxWhenLen)
	}
	p, err := compileSafe(when, env)
	if err != nil {
		var fe *file.Error
		if errors.As(err, &fe) {
			msg := fe.Message
			if fe.Column > 0 || fe.Line > 1 {
				msg = fmt.Sprintf("%s (column %d)", msg, fe.Column+1)
			}
			return nil, nil, errors.New(msg)
		}
		return nil, nil, errors.New(strings.SplitN(err.Error(), "\n", 2)[0])
	}
	seen := map[string]bool{}
	node := p.Node()
	ast.Walk(&node, identVisitor(func(name string) {
		if _, ok := env[name]; ok {
			seen[name] = true
		}
	}))
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return p, names, nil
}

func compileSafe(when string, env map[string]any) (p *vm.Program, err error) {
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("cannot compile this expression (%v)", r)
		}
	}()
	return expr.Compile(when, expr.Env(env), expr.AsBool(), expr.MaxNodes(500))
}

type identVisitor func(string)

func (f identVisitor) Visit(n *ast.Node) {
	if id, ok := (*n).(*ast.IdentifierNode); ok {
		f(id.Value)
	}
}
