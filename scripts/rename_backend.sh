#!/bin/sh
# rename_backend.sh: make Go files call the executor through package
# backend/cpu (issue 12, build item 2): graph.Compile, graph.CompileInference,
# graph.Program and graph.OpTime become cpu.Compile, cpu.CompileInference,
# cpu.Program and cpu.OpTime, and the files import
# github.com/shearsml/shears/backend/cpu (as cpubackend where the name cpu is
# taken: internal/cpu, a local variable). A graph import nothing uses any
# more is dropped. The rewrite is purely mechanical and can be rerun: files
# already rewritten are left alone.
#
# Usage, from anywhere in the repository:
#   scripts/rename_backend.sh              # every tracked .go file outside graph/ and backend/
#   scripts/rename_backend.sh FILE...      # just these files
# then: go build ./... && go vet ./...
set -eu
cd "$(git rev-parse --show-toplevel)"
if [ $# -eq 0 ]; then
	set -- $(git ls-files '*.go' | grep -v -e '^graph/' -e '^backend/')
fi
imp='"github.com/shearsml/shears/backend/cpu"'
for f in "$@"; do
	grep -qE 'graph\.(Compile|CompileInference|Program|OpTime)\b' "$f" || continue
	# Code (not comments) that names graph's executor.
	grep -v '^[[:space:]]*//' "$f" | grep -qE 'graph\.(Compile|CompileInference|Program|OpTime)\b' || continue
	before=$(cksum <"$f")
	name=cpu
	if grep -q "cpubackend $imp" "$f"; then
		name=cpubackend
	elif ! grep -q "^[[:space:]]*$imp" "$f" && grep -qw cpu "$f"; then
		# The name cpu is taken (internal/cpu, a local variable).
		name=cpubackend
	fi
	gofmt -r "graph.CompileInference -> $name.CompileInference" -w "$f"
	gofmt -r "graph.Compile -> $name.Compile" -w "$f"
	gofmt -r "graph.Program -> $name.Program" -w "$f"
	gofmt -r "graph.OpTime -> $name.OpTime" -w "$f"
	if ! grep -q "$imp" "$f"; then
		line=$imp
		[ "$name" = cpu ] || line="$name $imp"
		sed -i "0,/^\([[:space:]]*\)\"github.com\/shearsml\/shears\/graph\"/s//&\n\1$(printf '%s' "$line" | sed 's/[\/&]/\\&/g')/" "$f"
	fi
	# Drop the graph import when no code uses it any more.
	if ! grep -v '^[[:space:]]*//' "$f" | grep -q '\bgraph\.'; then
		sed -i '/^[[:space:]]*"github.com\/shearsml\/shears\/graph"$/d' "$f"
	fi
	gofmt -w "$f"
	[ "$(cksum <"$f")" = "$before" ] || echo "$f"
done
