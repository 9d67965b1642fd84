//! MLE: attach, roles, leader (being written).
