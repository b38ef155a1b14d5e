# deploy/lib/smtp.sh: a local SMTP sink for the tests (aiosmtpd from PyPI in a
# venv under .cache/), on 127.0.0.1:${SIMPUL_SMTP_PORT}. Every message it
# accepts is written to .stack/smtp/mail/<time>-<n>.eml, preceded by
# "X-Sink-From:" and one "X-Sink-Rcpt:" line per recipient, so tests read
# what simpul-notify sent. It never relays anything anywhere.
# shellcheck shell=bash disable=SC2153

export SIMPUL_SMTP_PORT="${SIMPUL_SMTP_PORT:-52525}"
STACK_SMTP_DIR="${STACK_DIR:?}/smtp"
export SIMPUL_SMTP_DIR="${SIMPUL_SMTP_DIR:-${STACK_SMTP_DIR}/mail}"
STACK_SMTP_PID="${STACK_RUN:?}/smtp.pid"
STACK_SMTP_LOG="${STACK_LOGS:?}/smtp.log"
STACK_SMTP_VENV="${SIMPUL_ROOT:?}/.cache/smtp-venv"
STACK_SMTP_AIOSMTPD="aiosmtpd==1.4.6"

# smtp_venv_ensure: the venv with aiosmtpd (pip from PyPI, once).
smtp_venv_ensure() {
	if "${STACK_SMTP_VENV}/bin/python" -c 'import aiosmtpd' 2>/dev/null; then
		return 0
	fi
	python3 -m venv "$STACK_SMTP_VENV" >>"$STACK_SMTP_LOG" 2>&1 ||
		die "python3 -m venv failed" "$STACK_SMTP_LOG"
	"${STACK_SMTP_VENV}/bin/pip" install -q "$STACK_SMTP_AIOSMTPD" >>"$STACK_SMTP_LOG" 2>&1 ||
		die "pip install ${STACK_SMTP_AIOSMTPD} failed" "$STACK_SMTP_LOG"
}

# smtp_write_sink: the sink program, rewritten on every start.
smtp_write_sink() {
	mkdir -p "$STACK_SMTP_DIR" "$SIMPUL_SMTP_DIR"
	cat >"${STACK_SMTP_DIR}/sink.py" <<'PY'
# Written by deploy/lib/smtp.sh on every start; edits are lost.
import itertools, os, signal, sys, time
from aiosmtpd.controller import Controller

port, outdir, pidfile = int(sys.argv[1]), sys.argv[2], sys.argv[3]
seq = itertools.count()

class Sink:
    async def handle_DATA(self, server, session, envelope):
        name = "%d-%06d-%d.eml" % (time.time_ns() // 1000, next(seq), os.getpid())
        tmp = os.path.join(outdir, "." + name)
        with open(tmp, "wb") as f:
            f.write(b"X-Sink-From: %s\r\n" % envelope.mail_from.encode())
            for r in envelope.rcpt_tos:
                f.write(b"X-Sink-Rcpt: %s\r\n" % r.encode())
            f.write(envelope.original_content or envelope.content)
        os.rename(tmp, os.path.join(outdir, name))  # readers never see half a file
        return "250 OK"

# Blocked before the server thread starts, so only sigwait below sees them.
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
ctl = Controller(Sink(), hostname="127.0.0.1", port=port, data_size_limit=8 << 20)
ctl.start()
with open(pidfile, "w") as f:
    f.write("%d\n" % os.getpid())
signal.sigwait({signal.SIGTERM, signal.SIGINT})
ctl.stop()
PY
}

# smtp_ready: true if something answers SMTP on our port.
smtp_ready() {
	timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/${SIMPUL_SMTP_PORT} && head -c 3 <&3" \
		2>/dev/null | grep -q 220
}

# smtp_start: after Kafka in `infra`; leaves a running sink alone.
smtp_start() {
	step_begin smtp
	if pidfile_pid "$STACK_SMTP_PID" >/dev/null && smtp_ready; then
		step_ok "running on 127.0.0.1:${SIMPUL_SMTP_PORT} (mail in ${SIMPUL_SMTP_DIR})"
		return 0
	fi
	port_free "$SIMPUL_SMTP_PORT" SIMPUL_SMTP_PORT
	smtp_venv_ensure
	smtp_write_sink
	nohup "${STACK_SMTP_VENV}/bin/python" "${STACK_SMTP_DIR}/sink.py" "$SIMPUL_SMTP_PORT" \
		"$SIMPUL_SMTP_DIR" "$STACK_SMTP_PID" >>"$STACK_SMTP_LOG" 2>&1 9>&- </dev/null &
	wait_for 20 smtp_ready || die "smtp sink not answering after 20s" "$STACK_SMTP_LOG"
	step_ok "started on 127.0.0.1:${SIMPUL_SMTP_PORT} (mail in ${SIMPUL_SMTP_DIR})"
}

# smtp_stop: part of `down`.
smtp_stop() {
	step_begin smtp
	step_ok "$(stop_pidfile "$STACK_SMTP_PID" 10)"
}

# smtp_status: one line for `status`.
smtp_status() {
	if pidfile_pid "$STACK_SMTP_PID" >/dev/null && smtp_ready; then
		printf '%-10s %-5s 127.0.0.1:%s (mail in %s)\n' smtp up "$SIMPUL_SMTP_PORT" "$SIMPUL_SMTP_DIR"
	else
		printf '%-10s %-5s 127.0.0.1:%s\n' smtp down "$SIMPUL_SMTP_PORT"
	fi
}
