#!/bin/sh
# spec/support/fake_ssh.sh: a stand-in for ssh that GNU parallel can use as an sshlogin
# ("1/spec/support/fake_ssh.sh hostA"), so a spec can show jobs spread over two "hosts" on a
# machine without an ssh server. It drops ssh's options, takes the host name, and runs the
# command here with sh, as a remote login shell would.
while [ $# -gt 0 ]; do
  case "$1" in
    -*) shift ;;
    *) break ;;
  esac
done
shift # the host name
[ "$1" = "--" ] && shift
# sshd sets SHELL from the login's passwd entry, and GNU parallel's remote worker execs
# $SHELL; a CI runner may start with an empty environment, where the worker would exec ""
# and the job would vanish without an error.
SHELL=${SHELL:-/bin/sh}
export SHELL
exec sh -c "$*"
