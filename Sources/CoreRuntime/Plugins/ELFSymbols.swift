import Foundation

/// Reads the exported function names of an ELF shared library from its dynamic symbol table,
/// without loading it. Plugin discovery uses it to tell hallu plugins from other libraries in a
/// search folder before `dlopen`, which would run a foreign library's initialisers.
public enum ELFSymbols {
    /// What a file turned out to be.
    public enum Contents: Equatable {
        /// Not a 64-bit little-endian ELF file (a text file, another platform's binary).
        case notELF
        /// An ELF file without a dynamic symbol table the reader can find.
        case noSymbolTable
        /// Defined, exported global or weak functions whose names start with the prefix.
        case functions(Set<String>)
    }

    /// The exported functions of `path` whose names start with `prefix`. Every offset and size read
    /// from the file is checked against its length; a truncated or malformed file is `.notELF` or
    /// `.noSymbolTable`, never a crash.
    public static func exportedFunctions(_ path: String, prefix: String) throws -> Contents {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
            throw HalluError.file(path, "cannot be read: \(error.localizedDescription)")
        }
        return data.withUnsafeBytes { raw in scan(raw, prefix: Array(prefix.utf8)) }
    }

    static func scan(_ b: UnsafeRawBufferPointer, prefix: [UInt8]) -> Contents {
        let n = b.count
        // e_ident: magic, 64-bit class, little-endian data.
        guard n >= 64, b[0] == 0x7F, b[1] == 0x45, b[2] == 0x4C, b[3] == 0x46, b[4] == 2, b[5] == 1 else { return .notELF }
        func u16(_ o: Int) -> Int? { o >= 0 && o <= n - 2 ? Int(b.loadUnaligned(fromByteOffset: o, as: UInt16.self).littleEndian) : nil }
        func u32(_ o: Int) -> Int? { o >= 0 && o <= n - 4 ? Int(b.loadUnaligned(fromByteOffset: o, as: UInt32.self).littleEndian) : nil }
        func u64(_ o: Int) -> Int? {
            guard o >= 0 && o <= n - 8 else { return nil }
            let v = b.loadUnaligned(fromByteOffset: o, as: UInt64.self).littleEndian
            return v <= UInt64(Int.max) ? Int(v) : nil
        }
        /// `base + index * stride`, or nil on overflow.
        func at(_ base: Int, _ index: Int, _ stride: Int) -> Int? {
            let (m, o1) = index.multipliedReportingOverflow(by: stride)
            let (s, o2) = base.addingReportingOverflow(m)
            return o1 || o2 ? nil : s
        }
        guard let shoff = u64(0x28), let shentsize = u16(0x3A), let shnum = u16(0x3C), shentsize >= 64, shnum > 0 else {
            return .noSymbolTable
        }
        /// (offset, size, link, entsize) of section `i`, within the file.
        func section(_ i: Int) -> (offset: Int, size: Int, link: Int, type: Int, entsize: Int)? {
            guard i >= 0, i < shnum, let h = at(shoff, i, shentsize), let type = u32(h + 4), let offset = u64(h + 0x18),
                  let size = u64(h + 0x20), let link = u32(h + 0x28), let entsize = u64(h + 0x38) else { return nil }
            let (end, overflow) = offset.addingReportingOverflow(size)
            guard !overflow, end <= n else { return nil }
            return (offset, size, link, type, entsize)
        }
        let dynsymType = 11
        guard let dynsym = (0..<shnum).lazy.compactMap(section).first(where: { $0.type == dynsymType }),
              let strtab = section(dynsym.link) else { return .noSymbolTable }
        let entsize = dynsym.entsize == 0 ? 24 : dynsym.entsize
        guard entsize >= 24 else { return .noSymbolTable }
        var names = Set<String>()
        for k in 0..<(dynsym.size / entsize) {
            guard let s = at(dynsym.offset, k, entsize), let nameOffset = u32(s) else { break }
            let info = b[s + 4], other = b[s + 5]
            guard let shndx = u16(s + 6) else { break }
            let binding = info >> 4, type = info & 0xF
            // Global or weak, a function, visible from outside (default or protected, as Swift
            // exports them; not hidden or internal), defined in this file.
            let visibility = other & 3
            guard binding == 1 || binding == 2, type == 2, visibility == 0 || visibility == 3, shndx != 0, nameOffset < strtab.size else { continue }
            let start = strtab.offset + nameOffset, limit = strtab.offset + strtab.size
            var end = start
            while end < limit && b[end] != 0 { end += 1 }
            guard end < limit, end - start >= prefix.count, end - start <= 256 else { continue }
            if !prefix.indices.allSatisfy({ b[start + $0] == prefix[$0] }) { continue }
            names.insert(String(decoding: UnsafeRawBufferPointer(rebasing: b[start..<end]), as: UTF8.self))
        }
        return .functions(names)
    }
}
