using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace CmpCluster.Grains.Audit;

/// <summary>
/// One record of a chain as it is stored and exported. <see cref="PreviousHash"/> is the SHA-256 of the previous
/// record of the same chain (<see cref="AuditCanonical.Hash"/>), or the chain's genesis value for sequence 1;
/// <see cref="Signature"/> is set on <see cref="AuditEventType.Checkpoint"/> records only.
/// </summary>
public sealed record AuditRecord(
    string ChainId,
    long Sequence,
    DateTimeOffset Time,
    AuditEventType Type,
    string Actor,
    string Target,
    string? Detail,
    byte[] PreviousHash,
    byte[]? Signature = null)
{
    /// <summary>Actor, target and detail are cut to this many characters before they are recorded.</summary>
    public const int MaxFieldLength = 1024;

    /// <summary>SHA-256 of this record's canonical encoding: what the next record of the chain references.</summary>
    public byte[] ComputeHash() => AuditCanonical.Hash(this);
}

/// <summary>
/// The canonical encoding that every hash and signature of the audit trail is computed over. Version 1:
/// <code>
/// tbs     = "CMPCLUSTER-AUDIT-V1"                      (19 ASCII octets, no length prefix)
///           str(chainId) ‖ u64(sequence) ‖ str(time) ‖ str(type) ‖ str(actor) ‖ str(target) ‖ opt(detail)
///           ‖ bin(previousHash)
/// hash    = SHA-256(tbs ‖ bin(signature))               (signature: empty for every record but a checkpoint)
/// genesis = SHA-256("CMPCLUSTER-AUDIT-GENESIS-V1" ‖ str(chainId))   (previousHash of sequence 1)
/// str(s)  = u32(length of UTF-8(s)) ‖ UTF-8(s);  opt(null) = u32(0xFFFFFFFF);  bin(b) = u32(length) ‖ b
/// u32/u64 = unsigned big-endian;  time = UTC as yyyy-MM-ddTHH:mm:ss.fffffffZ (RFC 3339 §5.6, 7 fraction digits)
/// type    = the <see cref="AuditEventType"/> member name, e.g. "CertificateSigned"
/// </code>
/// A checkpoint's signature is ECDSA P-256 with SHA-256 over <c>tbs</c>, DER-encoded (RFC 3279 §2.2.3 Ecdsa-Sig-Value),
/// so <c>openssl dgst -sha256 -verify audit-key.pub.pem -signature sig.der tbs.bin</c> checks it too.
/// </summary>
public static class AuditCanonical
{
    public const string TimeFormat = "yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'";
    private static readonly byte[] Magic = "CMPCLUSTER-AUDIT-V1"u8.ToArray();
    private static readonly byte[] GenesisMagic = "CMPCLUSTER-AUDIT-GENESIS-V1"u8.ToArray();

    public static byte[] Genesis(string chainId)
    {
        var buffer = new ArrayBufferWriter<byte>(64);
        buffer.Write(GenesisMagic);
        WriteString(buffer, chainId);
        return SHA256.HashData(buffer.WrittenSpan);
    }

    /// <summary>The octets a checkpoint signature covers (everything but the signature).</summary>
    public static byte[] ToBeSigned(AuditRecord record) => Encode(record).WrittenSpan.ToArray();

    public static byte[] Hash(AuditRecord record)
    {
        ArrayBufferWriter<byte> buffer = Encode(record);
        WriteBytes(buffer, record.Signature ?? []);
        return SHA256.HashData(buffer.WrittenSpan);
    }

    public static string FormatTime(DateTimeOffset time) => time.UtcDateTime.ToString(TimeFormat, CultureInfo.InvariantCulture);

    public static bool TryParseTime(string text, out DateTimeOffset time)
    {
        bool ok = DateTime.TryParseExact(text, TimeFormat, CultureInfo.InvariantCulture,
            DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out DateTime utc);
        time = ok ? new DateTimeOffset(utc, TimeSpan.Zero) : default;
        return ok;
    }

    /// <summary>Cuts a field to <see cref="AuditRecord.MaxFieldLength"/> characters (never inside a surrogate pair).</summary>
    public static string Limit(string value)
    {
        if (value.Length <= AuditRecord.MaxFieldLength)
        {
            return value;
        }
        int length = AuditRecord.MaxFieldLength;
        if (char.IsHighSurrogate(value[length - 1]))
        {
            length--;
        }
        return value[..length];
    }

    private static ArrayBufferWriter<byte> Encode(AuditRecord record)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        buffer.Write(Magic);
        WriteString(buffer, record.ChainId);
        BinaryPrimitives.WriteUInt64BigEndian(buffer.GetSpan(8), (ulong)record.Sequence);
        buffer.Advance(8);
        WriteString(buffer, FormatTime(record.Time));
        WriteString(buffer, record.Type.ToString());
        WriteString(buffer, record.Actor);
        WriteString(buffer, record.Target);
        if (record.Detail is null)
        {
            WriteLength(buffer, uint.MaxValue);
        }
        else
        {
            WriteString(buffer, record.Detail);
        }
        WriteBytes(buffer, record.PreviousHash);
        return buffer;
    }

    private static void WriteString(ArrayBufferWriter<byte> buffer, string value)
    {
        int length = Encoding.UTF8.GetByteCount(value);
        WriteLength(buffer, (uint)length);
        Encoding.UTF8.GetBytes(value, buffer.GetSpan(length));
        buffer.Advance(length);
    }

    private static void WriteBytes(ArrayBufferWriter<byte> buffer, ReadOnlySpan<byte> value)
    {
        WriteLength(buffer, (uint)value.Length);
        buffer.Write(value);
    }

    private static void WriteLength(ArrayBufferWriter<byte> buffer, uint length)
    {
        BinaryPrimitives.WriteUInt32BigEndian(buffer.GetSpan(4), length);
        buffer.Advance(4);
    }
}
