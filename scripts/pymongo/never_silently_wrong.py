"""The behaviours of "never silently wrong", through pymongo against a running server.

  python never_silently_wrong.py PORT

Documents whose subdocuments look like Extended JSON come back byte for byte (read
as raw BSON, so pymongo decodes nothing either); the legacy {$binary, $type} shape
is stored, not a closed connection; a transaction's writes appear at its commit and
never after its abort; validators are refused instead of stored and never enforced; and
$pull takes $or, $and and $nor conditions.
"""
import sys

import bson
import pymongo
from bson.raw_bson import RawBSONDocument
from pymongo.errors import OperationFailure, WriteError

port = int(sys.argv[1])
client = pymongo.MongoClient(f"mongodb://127.0.0.1:{port}/?directConnection=true", serverSelectionTimeoutMS=5000)
db = client.get_database("never_wrong")
raw = db.get_collection("shapes", codec_options=bson.CodecOptions(document_class=RawBSONDocument))

shapes = [
    {"$oid": "507f1f77bcf86cd799439011"},
    {"$numberLong": "1"},
    {"$numberInt": "1"},
    {"$numberDouble": "1.5"},
    {"$numberDecimal": "1.5"},
    {"$date": {"$numberLong": "0"}},
    {"$symbol": "s"},
    {"$code": "x"},
    {"$code": "x", "$scope": {}},
    {"$maxKey": 1},
    {"$minKey": 1},
    {"$timestamp": {"t": 1, "i": 2}},
    {"$regularExpression": {"pattern": "a", "options": ""}},
    {"$binary": {"base64": "AA==", "subType": "00"}},
    {"$binary": "AA==", "$type": "00"},
    {"$uuid": "00000000-0000-0000-0000-000000000000"},
    {"$dbPointer": {"$ref": "c", "$id": {"$oid": "507f1f77bcf86cd799439011"}}},
    {"$undefined": True},
]
for i, shape in enumerate(shapes):
    sent = bson.encode({"_id": i, "a": shape, "b": [shape]})
    raw.insert_one(RawBSONDocument(sent))
    back = raw.find_one({"_id": i})
    assert back.raw == sent, (shape, bson.decode(back.raw))
    assert raw.count_documents({"a": {"$eq": shape}}) == 1, shape
print(f"pymongo: {len(shapes)} Extended JSON look-alikes stored and returned byte for byte")

# A transaction's writes appear at its commit, all together, and never after an abort.
txns = db.txns
with client.start_session() as session:
    with session.start_transaction():
        txns.insert_one({"_id": 1}, session=session)
        txns.insert_one({"_id": 2}, session=session)
        assert txns.count_documents({}) == 0, "a transaction's write was visible before its commit"
    assert txns.count_documents({}) == 2, "a committed transaction's writes are missing"
    session.start_transaction()
    txns.insert_one({"_id": 3}, session=session)
    session.abort_transaction()
assert txns.count_documents({}) == 2, "an aborted transaction wrote"
print("pymongo: a transaction's writes appear at its commit, none after its abort")

# A validator is enforced, with MongoDB's error 121 and its explanation.
validated = db.create_collection("validated", validator={"$jsonSchema": {"required": ["x"]}})
validated.insert_one({"_id": 1, "x": 1})
try:
    validated.insert_one({"_id": 2})
    raise AssertionError("a document the validator rejects was stored")
except WriteError as e:
    assert e.code == 121, e.details
    details = e.details["errInfo"]["details"]
    assert details["schemaRulesNotSatisfied"][0]["missingProperties"] == ["x"], details
assert validated.count_documents({}) == 1
print("pymongo: validators enforced")

pulls = db.pulls
pulls.insert_one({"_id": 1, "arr": [{"x": 1}, {"x": 2}, {"x": 3}, 1]})
pulls.update_one({"_id": 1}, {"$pull": {"arr": {"$or": [{"x": 1}, {"x": 3}]}}})
assert pulls.find_one({"_id": 1})["arr"] == [{"x": 2}, 1]
pulls.update_one({"_id": 1}, {"$pull": {"arr": {"$nor": [{"x": 1}]}}})
assert pulls.find_one({"_id": 1})["arr"] == [1]
print("pymongo: $pull with $or and $nor ok")

# An argument a command does not take is refused, as MongoDB's parser refuses it.
try:
    db.command("find", "pulls", notAnOption=1)
    raise AssertionError("find accepted an unknown argument")
except OperationFailure as e:
    assert e.code == 40415, e.details
print("pymongo: unknown arguments refused")
client.close()
