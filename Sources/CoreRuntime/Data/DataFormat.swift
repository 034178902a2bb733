import Foundation

/// A data folder as a format reader sees it: where it is and how its records name images.
public struct DataFolder {
    public let root: URL
    /// Resolves the image names of records (against the folder and its image folders).
    public let images: ImageResolver

    public init(root: URL, images: ImageResolver) { self.root = root; self.images = images }

    /// The absolute path of a file in the folder.
    public func path(_ name: String) -> String { root.appendingPathComponent(name).path }
    /// Whether the folder has a file of that name.
    public func has(_ name: String) -> Bool { FileManager.default.fileExists(atPath: path(name)) }
}

/// One file format: the file names it recognises in a data folder and how it reads them into
/// samples of a kind. The core registers LLaVA's conversation format; plugins register their own
/// papers' formats into the kinds they fill (see `DataCatalog`).
public struct DataFormat {
    /// A name for messages and for `PreferencePair.source` (e.g. "llava").
    public let name: String
    /// The kind its samples belong to.
    public let kind: DataKind
    /// File names it recognises, in reading order.
    public let files: [String]
    /// Reads the recognised files present in a folder (`present`, in `files` order, never empty).
    public let read: (_ present: [String], _ folder: DataFolder) throws -> any SampleList

    public init(name: String, kind: DataKind, files: [String],
                read: @escaping (_ present: [String], _ folder: DataFolder) throws -> any SampleList) {
        self.name = name; self.kind = kind; self.files = files; self.read = read
    }

    /// A format whose files are JSON lists or JSON Lines of records, one sample per record (nil skips
    /// the record). `parse` reads a record through `DataRecord`'s accessors, whose errors name the
    /// file, the line or item, and the key; any other error it throws is prefixed with them too.
    public static func records<T: Sample>(_ name: String, kind: DataKind, files: [String],
                                          parse: @escaping (_ record: DataRecord, _ folder: DataFolder) throws -> T?) -> DataFormat {
        DataFormat(name: name, kind: kind, files: files) { present, folder in
            var out: [T] = []
            for file in present {
                let path = folder.path(file)
                for r in try DataRecord.readAll(path) {
                    do {
                        if let s = try parse(r, folder) { out.append(s) }
                    } catch let e as HalluError where e.message.hasPrefix(path) {
                        throw e
                    } catch let e as HalluError {
                        throw r.fail(e.message)
                    } catch {
                        throw r.fail("\(error)")
                    }
                }
            }
            return out
        }
    }
}

/// A kind of sample a plugin brings, and how a micro-batch of it is put together: `collate` turns
/// the batch's samples of the kind into what the method's loss reads (`Batch.collated`), e.g. model
/// inputs; without it the loss reads the samples (`batch[kind]`).
public struct DataKindSpec {
    public let kind: DataKind
    /// One line for listings.
    public let summary: String
    public let collate: ((_ samples: any SampleList, _ context: TrainContext) throws -> Any)?

    /// A kind without a collation.
    public init(_ kind: DataKind, summary: String) {
        self.kind = kind; self.summary = summary; collate = nil
    }

    /// A kind of samples of type `T` whose batches collate to a `C`.
    public init<T: Sample, C>(_ kind: DataKind, summary: String, of type: T.Type,
                              collate: @escaping (_ samples: [T], _ context: TrainContext) throws -> C) {
        self.kind = kind
        self.summary = summary
        self.collate = { list, ctx in
            guard let samples = list as? [T] else { throw HalluError("\(kind): expected samples of type \(T.self), got \(Swift.type(of: list))") }
            return try collate(samples, ctx)
        }
    }
}
