use shop
db.products.insertMany(Array.from({length: 30}, (_, i) => ({_id: i, name: "item-" + i, price: 5 * i, tags: i % 2 ? ["odd"] : ["even", "round"]})))
db.products.find({price: {$gte: 100, $lt: 120}, tags: "even"}, {_id: 0, name: 1, price: 1})
db.products.updateMany({price: {$lt: 20}}, {$inc: {price: 1}, $push: {tags: "sale"}})
db.products.findOne({_id: 1})
db.products.deleteMany({tags: {$in: ["odd"]}, price: {$gt: 100}})
db.products.countDocuments()
db.products.find({}, {name: 1}).sort({price: -1})
it
const changes = db.products.watch()
db.products.insertOne({_id: 30, name: "item-30", price: 150})
changes.tryNext()
