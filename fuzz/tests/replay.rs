//! Replays every committed input through its target: the hand-written seeds
//! (`seeds/TARGET/*`), what fuzzing kept (`corpus/TARGET/*`, minimized) and every input
//! that once broke an invariant (`regressions/TARGET/*`): what `make fuzz` found stays
//! fixed. Runs on stable, in seconds.

use std::path::Path;

fn inputs(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_corpus_and_regression_holds_its_invariants() {
    let root = pier_fuzz::root();
    let mut replayed = 0;
    for (name, target) in pier_fuzz::TARGETS {
        let seeds = inputs(&root.join("seeds").join(name));
        assert!(!seeds.is_empty(), "target {name} has no seeds");
        let kept = ["corpus", "regressions"].map(|dir| inputs(&root.join(dir).join(name)));
        for input in seeds.iter().chain(kept.iter().flatten()) {
            let data = std::fs::read(input).unwrap();
            let outcome = std::panic::catch_unwind(|| target(&data));
            assert!(
                outcome.is_ok(),
                "{name}: {} breaks an invariant (see the panic above)",
                input.display()
            );
            replayed += 1;
        }
    }
    eprintln!("replayed {replayed} inputs");
}

#[test]
fn every_target_has_a_libfuzzer_entry_point() {
    let root = pier_fuzz::root();
    for (name, _) in pier_fuzz::TARGETS {
        let entry = std::fs::read_to_string(root.join(format!("fuzz_targets/{name}.rs")))
            .unwrap_or_else(|e| panic!("fuzz_targets/{name}.rs: {e}"));
        assert!(
            entry.contains(&format!("pier_fuzz::{name}(data)")),
            "{entry}"
        );
    }
}

#[test]
fn the_signed_seed_verifies_and_its_altered_copies_do_not() {
    let corpus = pier_fuzz::root().join("seeds/jwt");
    let read = |name: &str| std::fs::read_to_string(corpus.join(name)).unwrap();
    let identity = pier_fuzz::verify_jwt(&read("signed")).expect("the seed verifies");
    assert_eq!(identity.subject, pier_fuzz::SIGNED_SUBJECT);
    for altered in [
        "claims-swapped",
        "bad-signature",
        "alg-none",
        "hs256",
        "expired",
        "wrong-aud",
    ] {
        let refused = pier_fuzz::verify_jwt(&read(altered));
        assert!(refused.is_err(), "{altered} verified");
    }
}
