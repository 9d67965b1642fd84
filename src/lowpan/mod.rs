//! 6LoWPAN adaptation: fragmentation and reassembly (being written).
