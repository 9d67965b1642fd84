//! unix board (being written)
