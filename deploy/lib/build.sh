# deploy/lib/build.sh: building the project with a CMake preset, and the
# simpulctl steps (migrations, topics, lag) run against the stack.
# shellcheck shell=bash

# build_preset PRESET: configure (first time only; ninja re-runs cmake when a
# CMakeLists changes) and build build/PRESET. Logs to .stack/logs/build-PRESET.log.
build_preset() {
	local preset="$1" log="${STACK_LOGS}/build-$1.log"
	step_begin build
	: >"$log"
	if [[ ! -f "${SIMPUL_ROOT}/build/${preset}/build.ninja" ]]; then
		(cd "$SIMPUL_ROOT" && cmake --preset "$preset") >>"$log" 2>&1 ||
			die "cmake --preset ${preset} failed" "$log"
	fi
	(cd "$SIMPUL_ROOT" && cmake --build --preset "$preset" \
		--parallel "${SIMPUL_BUILD_JOBS:-$(nproc)}") >>"$log" 2>&1 ||
		die "cmake --build --preset ${preset} failed" "$log"
	step_ok "build/${preset} up to date"
}

# simpulctl_path PRESET: where simpulctl of that build lives.
simpulctl_path() {
	printf '%s/build/%s/services/simpulctl/simpulctl\n' "$SIMPUL_ROOT" "$1"
}

# simpulctl_step PRESET NAME ARGS...: run `simpulctl ARGS` as step NAME. Only
# a missing binary is tolerated (it is being written); a failing one stops.
simpulctl_step() {
	local ctl log
	ctl="$(simpulctl_path "$1")"
	step_begin "$2"
	log="${STACK_LOGS}/simpulctl-$2.log"
	shift 2
	if [[ ! -x "$ctl" ]]; then
		step_ok "skipped: simpulctl not built yet (${ctl#"${SIMPUL_ROOT}/"})"
		return 0
	fi
	"$ctl" "$@" >"$log" 2>&1 || die "simpulctl $* failed" "$log"
	step_ok "simpulctl $* done"
}
