;; A wasi:cli command whose `run` loops forever without importing anything:
;; only the host's interruption (epoch deadline or fuel) can stop it.
(component
  (core module $main
    (func $run (export "run") (result i32)
      (loop $forever
        br $forever)
      unreachable))
  (core instance $main (instantiate $main))
  (func $run (result (result)) (canon lift (core func $main "run")))
  (instance $cli-run (export "run" (func $run)))
  (export "wasi:cli/run@0.2.0" (instance $cli-run)))
