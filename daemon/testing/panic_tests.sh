#!/bin/sh
# A stand-in ktstr test binary whose one test panics the guest kernel (sysrq 'c'), for the
# daemon's VM tests: the verdict must be VM_CRASH with the panic text.
case "$1" in
  --ktstr-list)
    echo '{"tests":[{"name":"panic","numa_nodes":1,"llcs":1,"cores":2,"threads":1,"memory_mb":512,"duration_s":1}]}'
    ;;
  --ktstr-run)
    echo "panicking the guest on purpose"
    echo c > /proc/sysrq-trigger
    sleep 60
    ;;
  *)
    exit 3
    ;;
esac
