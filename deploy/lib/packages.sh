# deploy/lib/packages.sh: the Debian packages the stack needs, installed only
# when some are missing (dpkg-query first, so a ready machine costs ~0.1 s).
# shellcheck shell=bash

STACK_PACKAGES=(
	pkg-config cmake ninja-build gcc clang libclang-rt-14-dev
	librdkafka-dev libpq-dev libhiredis-dev libmicrohttpd-dev
	libprotobuf-c-dev protobuf-c-compiler libjansson-dev libcmocka-dev
	libssl-dev libcurl4-openssl-dev libhunspell-dev hunspell-id libstemmer-dev
	postgresql redis-server kcat maven python3-venv curl jq
	nodejs chromium
)

# packages_missing: print the packages of STACK_PACKAGES not installed, one a
# line; a Java runtime is added only when no java >= 17 is on PATH.
packages_missing() {
	local p status
	for p in "${STACK_PACKAGES[@]}"; do
		status="$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)"
		[[ "$status" == "installed" ]] || printf '%s\n' "$p"
	done
	java_ok || printf '%s\n' default-jre-headless
	# npm ships inside some nodejs builds (NodeSource); Debian's is its own package
	command -v npm >/dev/null 2>&1 || printf '%s\n' npm
}

# java_ok: true if `java` on PATH is version 17 or later (Kafka 4 needs it).
java_ok() {
	local v
	command -v java >/dev/null 2>&1 || return 1
	v="$(java -XshowSettings:properties -version 2>&1 |
		awk -F'= ' '/java.specification.version/ { print $2 }')"
	[[ "${v%%.*}" =~ ^[0-9]+$ ]] && (( ${v%%.*} >= 17 ))
}

# packages_ensure: step 1 of `up`.
packages_ensure() {
	local missing log="${STACK_LOGS}/apt.log"
	step_begin packages
	mapfile -t missing < <(packages_missing)
	if (( ${#missing[@]} == 0 )); then
		step_ok "all ${#STACK_PACKAGES[@]} present"
		return 0
	fi
	note "installing: ${missing[*]}"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update >"$log" 2>&1 ||
		die "apt-get update failed" "$log"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y \
		"${missing[@]}" >>"$log" 2>&1 ||
		die "apt-get install failed" "$log"
	mapfile -t missing < <(packages_missing)
	(( ${#missing[@]} == 0 )) || die "still missing after install: ${missing[*]}" "$log"
	step_ok "installed"
}
