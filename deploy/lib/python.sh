# deploy/lib/python.sh: the Python venv of the report example consumer and
# its test (confluent-kafka, protobuf, grpcio-tools for protoc, from PyPI),
# under .cache/venv. Created once; a fast no-op when it is already complete.
# shellcheck shell=bash

STACK_VENV="${SIMPUL_ROOT:?}/.cache/venv"
STACK_VENV_LOG="${STACK_LOGS:?}/python-venv.log"
STACK_VENV_PKGS=(confluent-kafka==2.6.1 protobuf==5.28.3 grpcio-tools==1.68.1)

# python_venv_ensure: the venv with the pinned packages (pip, once).
python_venv_ensure() {
	step_begin python
	if "${STACK_VENV}/bin/python" -c 'import confluent_kafka, google.protobuf, grpc_tools.protoc' \
		2>/dev/null; then
		step_ok "venv ready (${STACK_VENV})"
		return 0
	fi
	mkdir -p "$(dirname "$STACK_VENV")" "$STACK_LOGS"
	python3 -m venv "$STACK_VENV" >>"$STACK_VENV_LOG" 2>&1 ||
		die "python3 -m venv failed" "$STACK_VENV_LOG"
	"${STACK_VENV}/bin/pip" install -q "${STACK_VENV_PKGS[@]}" >>"$STACK_VENV_LOG" 2>&1 ||
		die "pip install ${STACK_VENV_PKGS[*]} failed" "$STACK_VENV_LOG"
	step_ok "venv created (${STACK_VENV})"
}
