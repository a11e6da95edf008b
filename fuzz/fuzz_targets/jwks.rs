#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| pier_fuzz::jwks(data));
