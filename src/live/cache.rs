//! A small bounded cache of on-demand results (another instant, custom
//! weights, uncertainty), keyed by data version and request, so repeated
//! reads of the same question are answered without recomputing.

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

type Entry = Arc<dyn Any + Send + Sync>;

pub struct ResultCache {
    capacity: usize,
    entries: Mutex<(HashMap<String, Entry>, VecDeque<String>)>,
}

impl ResultCache {
    pub fn new(capacity: usize) -> ResultCache {
        ResultCache {
            capacity,
            entries: Mutex::new((HashMap::new(), VecDeque::new())),
        }
    }

    /// The cached result for `key`, if it holds a `T`.
    pub fn get<T: Send + Sync + 'static>(&self, key: &str) -> Option<Arc<T>> {
        let entry = self
            .entries
            .lock()
            .expect("cache lock")
            .0
            .get(key)
            .cloned()?;
        entry.downcast().ok()
    }

    /// Stores a result, evicting the oldest when full.
    pub fn insert<T: Send + Sync + 'static>(&self, key: String, value: Arc<T>) {
        let mut guard = self.entries.lock().expect("cache lock");
        let (map, order) = &mut *guard;
        if map.insert(key.clone(), value).is_none() {
            order.push_back(key);
        }
        while order.len() > self.capacity {
            if let Some(oldest) = order.pop_front() {
                map.remove(&oldest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_entry_is_evicted_at_capacity() {
        let cache = ResultCache::new(2);
        for key in ["a", "b", "c"] {
            cache.insert(key.to_owned(), Arc::new(key.to_owned()));
        }
        assert!(cache.get::<String>("a").is_none());
        assert_eq!(
            cache.get::<String>("c").as_deref().map(String::as_str),
            Some("c")
        );
        assert!(
            cache.get::<u32>("c").is_none(),
            "a different type is a miss"
        );
    }
}
