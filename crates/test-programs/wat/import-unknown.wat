;; A wasi:cli command that imports an interface no host provides
;; (`manifold:test/missing@1.0.0`), for tests of the host's diagnostics when
;; an import cannot be satisfied. `run` would call it, then return ok.
(component
  (import "manifold:test/missing@1.0.0" (instance $missing
    (export "ping" (func))))
  (core func $ping (canon lower (func $missing "ping")))
  (core module $main
    (import "missing" "ping" (func $ping))
    (func $run (export "run") (result i32)
      call $ping
      i32.const 0))
  (core instance $main (instantiate $main
    (with "missing" (instance (export "ping" (func $ping))))))
  (func $run (result (result)) (canon lift (core func $main "run")))
  (instance $cli-run (export "run" (func $run)))
  (export "wasi:cli/run@0.2.0" (instance $cli-run)))
