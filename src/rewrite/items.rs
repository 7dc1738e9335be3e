//! The item log: what the reorder containers' item handlers read from each item's start tag
//! (its SKU and rank attribute), written by the handlers and only read by the output stream's
//! reorder stage. Data flows one way: handlers write the log and mark the stream with the log
//! positions; the reorder stage reads both and writes nothing back.
//!
//! The log holds the items of one (outermost) container at a time, numbered by its serial, and
//! is bounded by the container's buffer limit whatever the page holds: it takes items while
//! their start tags (which hold the attributes it keeps) add up to no more than the limit.
//! Past it the container is marked full: the reorder stage, which buffers at most the same
//! limit of the page's bytes, leaves it in origin order then.

use crate::decide::ItemKeys;

/// Bytes of the shortest start tag (`<a>`).
const MIN_TAG_BYTES: usize = 3;

/// An item's attributes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Item {
    pub sku: Option<String>,
    pub attr: Option<String>,
}

impl Item {
    pub(super) fn keys(&self) -> ItemKeys<'_> {
        ItemKeys {
            sku: self.sku.as_deref(),
            attr: self.attr.as_deref(),
        }
    }
}

#[derive(Debug, Default)]
pub(super) struct ItemLog {
    /// The outermost container being recorded (counted from 1; 0: none yet).
    serial: u32,
    /// Containers open, the outermost one included (nested containers are its content).
    depth: u32,
    items: Vec<Item>,
    /// The recorded items' start tags, in bytes.
    tag_bytes: usize,
    limit: usize,
    full: bool,
}

impl ItemLog {
    /// A container's start tag; returns its serial (an outermost container starts a new log).
    pub(super) fn open_container(&mut self, limit: usize) -> u32 {
        if self.depth == 0 {
            self.serial = self.serial.wrapping_add(1);
            self.items.clear();
            self.tag_bytes = 0;
            self.limit = limit;
            self.full = false;
        }
        self.depth += 1;
        self.serial
    }

    /// A container's end tag.
    pub(super) fn close_container(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// An item's start tag (`tag_bytes` long in the page) inside an open container; returns
    /// its place in the log, or `None` outside containers and once the log is full.
    pub(super) fn record(&mut self, item: Item, tag_bytes: usize) -> Option<u32> {
        if self.depth == 0 || self.full {
            return None;
        }
        let values =
            item.sku.as_ref().map_or(0, String::len) + item.attr.as_ref().map_or(0, String::len);
        self.tag_bytes += tag_bytes.max(values).max(MIN_TAG_BYTES);
        let index = u32::try_from(self.items.len()).ok();
        if self.tag_bytes > self.limit || index.is_none() {
            self.full = true;
            self.items = Vec::new();
            return None;
        }
        self.items.push(item);
        index
    }

    /// The keys of the items at `indices` of container `serial`; `None` when the log holds
    /// another container now, is full, or lacks one of them.
    pub(super) fn keys(&self, serial: u32, indices: &[u32]) -> Option<Vec<ItemKeys<'_>>> {
        if serial != self.serial || self.full {
            return None;
        }
        indices
            .iter()
            .map(|&i| self.items.get(i as usize).map(Item::keys))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(sku: &str) -> Item {
        Item {
            sku: Some(sku.into()),
            attr: None,
        }
    }

    #[test]
    fn items_are_numbered_from_each_outermost_container() {
        let mut log = ItemLog::default();
        assert_eq!(log.record(item("outside"), 20), None);
        let first = log.open_container(1024);
        assert_eq!(log.record(item("a"), 20), Some(0));
        assert_eq!(log.open_container(1024), first, "nested: same container");
        assert_eq!(log.record(item("nested"), 20), Some(1));
        log.close_container();
        assert_eq!(log.record(item("b"), 20), Some(2));
        log.close_container();
        assert_eq!(log.record(item("after"), 20), None);
        let keys = log.keys(first, &[2, 0]).unwrap();
        assert_eq!(keys[0].sku, Some("b"));
        assert_eq!(keys[1].sku, Some("a"));
        let second = log.open_container(1024);
        assert_ne!(second, first);
        assert_eq!(log.record(item("c"), 20), Some(0));
        assert!(
            log.keys(first, &[0]).is_none(),
            "the log holds the second container now"
        );
        assert!(log.keys(second, &[1]).is_none(), "no such item");
    }

    #[test]
    fn the_log_is_bounded_by_the_containers_limit() {
        let mut log = ItemLog::default();
        let serial = log.open_container(30);
        for n in 0..10 {
            assert_eq!(
                log.record(Item::default(), 1),
                Some(n),
                "{n}: 3 bytes at least"
            );
        }
        assert_eq!(log.record(Item::default(), 1), None, "33 bytes > 30");
        assert!(
            log.keys(serial, &[0]).is_none(),
            "full: left in origin order"
        );
        log.close_container();
        let serial = log.open_container(100);
        assert_eq!(log.record(item("12345"), 60), Some(0));
        assert_eq!(
            log.record(item("1234"), 41),
            None,
            "101 bytes of start tags > 100"
        );
        assert!(log.keys(serial, &[0]).is_none());
        log.close_container();
        let serial = log.open_container(8);
        assert_eq!(
            log.record(item("a-long-sku"), 4),
            None,
            "a value is never longer than its tag"
        );
        assert!(log.keys(serial, &[]).is_none());
    }
}
