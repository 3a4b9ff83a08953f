//! BSON written straight into a frame: the documents `insert` and `bulk-write`
//! send, without building a `Document` of each first. At a hundred thousand
//! documents a command, building and encoding them took the tool more CPU than
//! the server spent storing them, on the machine the two share.

/// A document or array being written: where its length goes once it is done.
#[must_use = "a document must be ended"]
pub struct Open(usize);

/// Starts a document at the end of `buf`.
pub fn begin(buf: &mut Vec<u8>) -> Open {
    let at = buf.len();
    buf.extend_from_slice(&[0; 4]);
    Open(at)
}

/// Ends a document or array: its terminator and its length.
pub fn end(buf: &mut Vec<u8>, open: Open) {
    buf.push(0);
    let len = (buf.len() - open.0) as i32;
    buf[open.0..open.0 + 4].copy_from_slice(&len.to_le_bytes());
}

fn element(buf: &mut Vec<u8>, kind: u8, key: &str) {
    buf.push(kind);
    buf.extend_from_slice(key.as_bytes());
    buf.push(0);
}

pub fn double(buf: &mut Vec<u8>, key: &str, value: f64) {
    element(buf, 0x01, key);
    buf.extend_from_slice(&value.to_le_bytes());
}

pub fn string(buf: &mut Vec<u8>, key: &str, value: &str) {
    element(buf, 0x02, key);
    buf.extend_from_slice(&(value.len() as i32 + 1).to_le_bytes());
    buf.extend_from_slice(value.as_bytes());
    buf.push(0);
}

/// Starts an embedded document.
pub fn document(buf: &mut Vec<u8>, key: &str) -> Open {
    element(buf, 0x03, key);
    begin(buf)
}

/// Starts an array: its elements are keyed "0", "1", …
pub fn array(buf: &mut Vec<u8>, key: &str) -> Open {
    element(buf, 0x04, key);
    begin(buf)
}

pub fn boolean(buf: &mut Vec<u8>, key: &str, value: bool) {
    element(buf, 0x08, key);
    buf.push(u8::from(value));
}

pub fn int32(buf: &mut Vec<u8>, key: &str, value: i32) {
    element(buf, 0x10, key);
    buf.extend_from_slice(&value.to_le_bytes());
}

pub fn int64(buf: &mut Vec<u8>, key: &str, value: i64) {
    element(buf, 0x12, key);
    buf.extend_from_slice(&value.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::*;

    #[test]
    fn writes_what_bson_encodes() {
        let mut buf = Vec::new();
        let outer = begin(&mut buf);
        int64(&mut buf, "_id", 7);
        int32(&mut buf, "i", -3);
        string(&mut buf, "name", "load");
        boolean(&mut buf, "yes", true);
        let loc = document(&mut buf, "loc");
        string(&mut buf, "type", "Point");
        let coordinates = array(&mut buf, "coordinates");
        double(&mut buf, "0", -74.5);
        double(&mut buf, "1", 40.25);
        end(&mut buf, coordinates);
        end(&mut buf, loc);
        end(&mut buf, outer);
        let expected = doc! {
            "_id": 7_i64, "i": -3, "name": "load", "yes": true,
            "loc": {"type": "Point", "coordinates": [-74.5, 40.25]},
        };
        assert_eq!(buf, bson::to_vec(&expected).expect("encode"));
    }
}
