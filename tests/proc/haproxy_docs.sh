#!/usr/bin/env bash
# The HAProxy recipe the docs give is the one the end-to-end test runs:
# README.md ("The HAProxy side") and docs/haproxy.md ("HAProxy
# configuration") quote docs/haproxy-fcgi.cfg as it is, and HAProxy
# accepts the recipe and the complete configuration of docs/haproxy.md
# (haproxy -c).
# shellcheck source-path=SCRIPTDIR
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/tap.sh
. "$here/../lib/tap.sh"
# shellcheck source=../lib/stack.sh
. "$here/../lib/stack.sh"
# shellcheck source=../lib/haproxy.sh
. "$here/../lib/haproxy.sh"

plan 6

srcdir=${top_srcdir:-$here/../..}
recipe=$srcdir/docs/haproxy-fcgi.cfg
stack_init

# The recipe without its opening comment: what the docs quote.
recipe_body() {
	awk 'started || !/^(#|$)/ { started = 1; print }' "$recipe"
}

# The first indented code block under the "## SECTION" heading of FILE
# that holds an fcgi-app section, without its 4-space indent:
# md_block FILE SECTION.
md_block() {
	awk -v sec="## $2" '
		function flush() {
			if (nb && has && !done) { for (i = 1; i <= nb; i++) print b[i]; done = 1 }
			nb = 0; has = 0; blanks = 0
		}
		/^## / { flush(); insec = ($0 == sec); next }
		!insec { next }
		/^    / {
			for (; blanks > 0; blanks--) b[++nb] = ""
			b[++nb] = substr($0, 5)
			if (b[nb] ~ /^fcgi-app /) has = 1
			next
		}
		/^[ \t]*$/ { if (nb) blanks++; next }
		{ flush() }
		END { flush() }' "$1"
}

body=$STACK_DIR/recipe.body
recipe_body >"$body"
ok "the recipe has an fcgi-app and a backend" \
	sh -c "grep -q '^fcgi-app ' '$body' && grep -q '^backend ' '$body'"
ok "the recipe's fcgi-app turns php-fpm's kept connections off" \
	grep -Eq '^[[:space:]]+no option keep-conn$' "$body"

md_block "$srcdir/README.md" "The HAProxy side" >"$STACK_DIR/readme.block"
ok "README.md, The HAProxy side: quotes docs/haproxy-fcgi.cfg as it is" \
	diff -u "$body" "$STACK_DIR/readme.block"

md_block "$srcdir/docs/haproxy.md" "HAProxy configuration" >"$STACK_DIR/guide.block"
n=$(wc -l <"$body")
ok "docs/haproxy.md, HAProxy configuration: ends with docs/haproxy-fcgi.cfg as it is" \
	diff -u "$body" <(tail -n "$n" "$STACK_DIR/guide.block")

if haproxy_available; then
	# The recipe leaves global, defaults and the frontend to the user.
	cat >"$STACK_DIR/around.cfg" <<'EOF'
defaults
    timeout connect 5s
    timeout client 30s
    timeout server 30s

frontend www
    mode http
    bind 127.0.0.1:80
    default_backend php
EOF
	ok "haproxy -c accepts the recipe, with a frontend and timeouts" \
		"$HAPROXY" -c -q -f "$STACK_DIR/around.cfg" -f "$recipe"
	ok "haproxy -c accepts the complete configuration of docs/haproxy.md" \
		"$HAPROXY" -c -q -f "$STACK_DIR/guide.block"
else
	skip "HAProxy 2.6 or later is not installed" 2
fi

done_testing
