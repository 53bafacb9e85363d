;; A wasi:cli command with no imports at all whose `run` returns ok.
(component
  (core module $main
    ;; `result` with no payloads lowers to one i32: 0 = ok, 1 = err.
    (func $run (export "run") (result i32)
      i32.const 0))
  (core instance $main (instantiate $main))
  (func $run (result (result)) (canon lift (core func $main "run")))
  (instance $cli-run (export "run" (func $run)))
  (export "wasi:cli/run@0.2.0" (instance $cli-run)))
