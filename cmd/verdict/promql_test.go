package main

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A small PromQL lexer for the observability tests: enough to list the
// series the dashboard and the alert rules read. promtool checks their
// syntax; this only finds names and label matchers.

// A promqlSelector is a series a PromQL expression reads: a metric name,
// and the label matchers written on it.
type promqlSelector struct {
	metric   string
	matchers []promqlMatcher
}

type promqlMatcher struct{ label, op, value string }

// promqlKeywords are identifiers that are not metric names wherever they
// stand: operators, aggregations and modifiers. (A function is an
// identifier followed by "(".)
var promqlKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "inf": true, "nan": true,
	"sum": true, "avg": true, "min": true, "max": true, "count": true, "group": true, "stddev": true, "stdvar": true,
	"topk": true, "bottomk": true, "quantile": true, "count_values": true, "limitk": true, "limit_ratio": true,
}

// promqlLabelLists are keywords followed by a list of label names.
var promqlLabelLists = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

// promqlSelectors lists the selectors of a PromQL expression (Grafana's
// $variables allowed), in order. It is a lexer, not a parser: enough to
// find every series an expression reads; promtool checks the syntax.
func promqlSelectors(expr string) ([]promqlSelector, error) {
	toks, err := promqlTokens(expr)
	if err != nil {
		return nil, err
	}
	var out []promqlSelector
	for i := 0; i < len(toks); i++ {
		tk, next := toks[i], ""
		if i+1 < len(toks) {
			next = toks[i+1].text
		}
		switch {
		case tk.text == "[": // a range or a subquery: durations only
			for i < len(toks) && toks[i].text != "]" {
				i++
			}
		case tk.text == "{": // a selector without a name: {__name__="..."}
			ms, end, err := promqlMatchers(toks, i)
			if err != nil {
				return nil, err
			}
			i = end
			for _, m := range ms {
				if m.label == "__name__" && m.op == "=" {
					out = append(out, promqlSelector{metric: m.value, matchers: ms})
				}
			}
		case tk.kind != promqlIdent || promqlKeywords[tk.text]:
		case promqlLabelLists[tk.text]:
			if next == "(" {
				for i < len(toks) && toks[i].text != ")" {
					i++
				}
			}
		case next == "(": // a function
		default:
			s := promqlSelector{metric: tk.text}
			if next == "{" {
				s.matchers, i, err = promqlMatchers(toks, i+1)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", tk.text, err)
				}
			}
			out = append(out, s)
		}
	}
	return out, nil
}

// promqlMatchers reads `{label op "value", ...}` from toks[open], "{", and
// returns the index of its "}".
func promqlMatchers(toks []promqlToken, open int) ([]promqlMatcher, int, error) {
	var ms []promqlMatcher
	i := open + 1
	for ; i < len(toks) && toks[i].text != "}"; i++ {
		if i+2 >= len(toks) || toks[i].kind != promqlIdent || toks[i+2].kind != promqlString {
			return nil, 0, fmt.Errorf("cannot read the label matchers at %q", promqlText(toks[i:]))
		}
		switch op := toks[i+1].text; op {
		case "=", "!=", "=~", "!~":
			ms = append(ms, promqlMatcher{toks[i].text, op, toks[i+2].text})
		default:
			return nil, 0, fmt.Errorf("label matcher operator %q", op)
		}
		i += 2
		if i+1 < len(toks) && toks[i+1].text == "," {
			i++
		}
	}
	if i == len(toks) {
		return nil, 0, fmt.Errorf("unclosed {")
	}
	return ms, i, nil
}

const (
	promqlIdent = iota
	promqlString
	promqlNumber // a number or a duration
	promqlVariable
	promqlPunct
)

type promqlToken struct {
	kind int
	text string // a string's, unquoted
}

func promqlText(toks []promqlToken) string {
	var parts []string
	for _, tk := range toks {
		parts = append(parts, tk.text)
	}
	return strings.Join(parts, " ")
}

func promqlIdentStart(c byte) bool {
	return c == '_' || c == ':' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

func promqlIdentChar(c byte) bool { return promqlIdentStart(c) || ('0' <= c && c <= '9') }

func promqlDigit(c byte) bool { return '0' <= c && c <= '9' }

// promqlTokens splits a PromQL expression into tokens.
func promqlTokens(s string) ([]promqlToken, error) {
	var toks []promqlToken
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#': // a comment, to the end of the line
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '"' || c == '\'' || c == '`':
			j := i + 1
			for j < len(s) && s[j] != c {
				if s[j] == '\\' && c != '`' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated string at %q", s[i:])
			}
			raw := s[i+1 : j]
			if c != '`' {
				unq, err := strconv.Unquote(`"` + strings.ReplaceAll(raw, `\'`, `'`) + `"`)
				if err != nil {
					return nil, fmt.Errorf("string %s: %v", s[i:j+1], err)
				}
				raw = unq
			}
			toks = append(toks, promqlToken{promqlString, raw})
			i = j + 1
		case promqlDigit(c) || (c == '.' && i+1 < len(s) && promqlDigit(s[i+1])):
			j := i
			for j < len(s) && (promqlIdentChar(s[j]) || s[j] == '.' ||
				((s[j] == '+' || s[j] == '-') && (s[j-1] == 'e' || s[j-1] == 'E') && !strings.ContainsAny(s[i:j], "xX"))) {
				j++
			}
			toks = append(toks, promqlToken{promqlNumber, s[i:j]})
			i = j
		case c == '$':
			j := i + 1
			if j < len(s) && s[j] == '{' {
				j = strings.IndexByte(s[i:], '}')
				if j < 0 {
					return nil, fmt.Errorf("unclosed ${ at %q", s[i:])
				}
				j += i + 1
			} else {
				for j < len(s) && promqlIdentChar(s[j]) {
					j++
				}
			}
			toks = append(toks, promqlToken{promqlVariable, s[i:j]})
			i = j
		case promqlIdentStart(c):
			j := i
			for j < len(s) && promqlIdentChar(s[j]) {
				j++
			}
			toks = append(toks, promqlToken{promqlIdent, s[i:j]})
			i = j
		default:
			n := 1
			if i+1 < len(s) && strings.Contains("=~ !~ != == >= <=", s[i:i+2]) {
				n = 2
			}
			toks = append(toks, promqlToken{promqlPunct, s[i : i+n]})
			i += n
		}
	}
	return toks, nil
}

// TestPromQLSelectors pins the lexer the metrics test relies on.
func TestPromQLSelectors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		expr string
		want []promqlSelector
	}{
		{`histogram_quantile(0.99, sum by (le, route) (rate(verdict_request_duration_seconds_bucket{job=~"$job", route!=""}[$__rate_interval])))`,
			[]promqlSelector{{"verdict_request_duration_seconds_bucket", []promqlMatcher{{"job", "=~", "$job"}, {"route", "!=", ""}}}}},
		{`increase(a_total{result="failure"}[5m]) > 0 unless ignoring(result) b_total{result="success"} > 1e-3`,
			[]promqlSelector{{"a_total", []promqlMatcher{{"result", "=", "failure"}}}, {"b_total", []promqlMatcher{{"result", "=", "success"}}}}},
		{`sum without (result) (x) / on (job) group_left (version) y offset 1h and bool z`,
			[]promqlSelector{{"x", nil}, {"y", nil}, {"z", nil}}},
		{`label_replace(up, "caller", "none", "caller", "") or {__name__="named", le='0.05'}`,
			[]promqlSelector{{"up", nil}, {"named", []promqlMatcher{{"__name__", "=", "named"}, {"le", "=", "0.05"}}}}},
		{"max_over_time((time() - ns:rec:ratio_rate5m)[1h:30s]) # the age\n > 900",
			[]promqlSelector{{"ns:rec:ratio_rate5m", nil}}},
	} {
		got, err := promqlSelectors(tt.expr)
		if err != nil {
			t.Errorf("%s: %v", tt.expr, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(promqlSelector{}, promqlMatcher{})); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.expr, diff)
		}
	}
	if _, err := promqlSelectors(`x{job=}`); err == nil {
		t.Error("x{job=}: no error")
	}
}
