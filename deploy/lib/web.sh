# deploy/lib/web.sh: the console's front end (services/console/web): npm ci
# with the committed package-lock.json into .cache/console-web (again only
# when the lock file changed), then an esbuild bundle into
# .cache/console-web/dist, which simpul-console serves (SIMPUL_CONSOLE_WEB_DIR).
# Nothing is fetched at run time: no CDN.
# shellcheck shell=bash

STACK_WEB_SRC="${SIMPUL_ROOT:?}/services/console/web"
STACK_WEB_CACHE="${SIMPUL_ROOT}/.cache/console-web"
STACK_WEB_LOG="${STACK_LOGS:?}/web-build.log"

# web_deps_ensure: node_modules for the lock file's exact versions.
web_deps_ensure() {
	local sum
	sum="$(sha256sum "${STACK_WEB_SRC}/package-lock.json" | cut -d' ' -f1)"
	if [[ -d "${STACK_WEB_CACHE}/node_modules" &&
		"$(cat "${STACK_WEB_CACHE}/.lock-sha256" 2>/dev/null)" == "$sum" ]]; then
		return 0
	fi
	note "npm ci (console front end)"
	mkdir -p "$STACK_WEB_CACHE"
	cp "${STACK_WEB_SRC}/package.json" "${STACK_WEB_SRC}/package-lock.json" "$STACK_WEB_CACHE/"
	(cd "$STACK_WEB_CACHE" && npm ci --no-audit --no-fund) >>"$STACK_WEB_LOG" 2>&1 ||
		die "npm ci failed" "$STACK_WEB_LOG"
	echo "$sum" >"${STACK_WEB_CACHE}/.lock-sha256"
}

# web_build: a step of `infra` (so both `up` and `test` have the assets).
web_build() {
	local dist="${STACK_WEB_CACHE}/dist"
	step_begin web
	command -v npm >/dev/null 2>&1 || die "npm not found (the packages step installs it)"
	mkdir -p "$STACK_LOGS"
	: >"$STACK_WEB_LOG"
	web_deps_ensure
	if [[ -f "${dist}/index.html" && -z "$(find "${STACK_WEB_SRC}/src" "${STACK_WEB_SRC}/index.html" \
		"${STACK_WEB_SRC}/build.mjs" "${STACK_WEB_CACHE}/.lock-sha256" \
		-newer "${dist}/index.html" -print -quit)" ]]; then
		step_ok "console assets up to date (${dist#"${SIMPUL_ROOT}/"})"
		return 0
	fi
	node "${STACK_WEB_SRC}/build.mjs" "${STACK_WEB_CACHE}/node_modules" "$dist" \
		>>"$STACK_WEB_LOG" 2>&1 || die "console front-end build failed" "$STACK_WEB_LOG"
	step_ok "console assets built (${dist#"${SIMPUL_ROOT}/"})"
}
