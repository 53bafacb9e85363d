;; A wasi:cli command whose `run` traps with `unreachable` in a core function
;; named `deliberate_trap`, so a host can check its backtrace names it.
(component
  (core module $main
    (func $deliberate_trap
      unreachable)
    (func $run (export "run") (result i32)
      call $deliberate_trap
      i32.const 0))
  (core instance $main (instantiate $main))
  (func $run (result (result)) (canon lift (core func $main "run")))
  (instance $cli-run (export "run" (func $run)))
  (export "wasi:cli/run@0.2.0" (instance $cli-run)))
