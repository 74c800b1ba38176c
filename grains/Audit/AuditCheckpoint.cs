using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace CmpCluster.Grains.Audit;

/// <summary>
/// What a checkpoint record's <see cref="AuditRecord.Detail"/> says, as <c>key=HEX;chains=N;index=HEX[;final]</c>.
/// The checkpoint itself is the chain's next record, so its previousHash and sequence are the head it covers; the
/// signature (<see cref="AuditCanonical"/>) makes that head, and everything chained before it, unforgeable without
/// the audit key.
/// </summary>
/// <remarks>
/// <para><b>Chain index.</b> Every writer process appends to its own chain, and a chain is entered in the store's
/// append-only chain index in the same write as its first record. A checkpoint also covers the first
/// <see cref="Chains"/> entries of that index as the writer read it (<see cref="IndexDigest"/>), so removing a whole
/// chain — its records and its index entry — breaks the digest of every later checkpoint of every other chain. The
/// index order is the order in which chains' first records were stored, which is also the order of their first
/// appearance in an export.</para>
/// <para><b>What cannot be detected</b> from the store alone: the records after a chain's last checkpoint (at most
/// one checkpoint interval, or the tail of a process that crashed) can be cut off, and a chain that started after the
/// last checkpoint of every other chain can be removed whole. Keeping the latest export (or just the latest
/// checkpoints) somewhere else closes that window.</para>
/// </remarks>
public sealed record AuditCheckpoint(string KeyId, int Chains, byte[] IndexDigest, bool Final)
{
    private static readonly byte[] IndexMagic = "CMPCLUSTER-AUDIT-INDEX-V1"u8.ToArray();

    public string Format() => string.Create(CultureInfo.InvariantCulture,
        $"key={KeyId};chains={Chains};index={Convert.ToHexStringLower(IndexDigest)}{(Final ? ";final" : "")}");

    public static bool TryParse(string? detail, out AuditCheckpoint checkpoint)
    {
        checkpoint = null!;
        if (detail is null)
        {
            return false;
        }
        string[] parts = detail.Split(';');
        if (parts.Length is < 3 or > 4 || !parts[0].StartsWith("key=", StringComparison.Ordinal)
            || !parts[1].StartsWith("chains=", StringComparison.Ordinal) || !parts[2].StartsWith("index=", StringComparison.Ordinal)
            || (parts.Length == 4 && parts[3] != "final"))
        {
            return false;
        }
        if (!int.TryParse(parts[1].AsSpan(7), NumberStyles.None, CultureInfo.InvariantCulture, out int chains) || parts[2].Length != 6 + 64)
        {
            return false;
        }
        byte[] digest;
        try
        {
            digest = Convert.FromHexString(parts[2].AsSpan(6));
        }
        catch (FormatException)
        {
            return false;
        }
        checkpoint = new AuditCheckpoint(parts[0][4..], chains, digest, parts.Length == 4);
        return true;
    }

    /// <summary>SHA-256("CMPCLUSTER-AUDIT-INDEX-V1" ‖ u32(n) ‖ str(chain 1) ‖ … ‖ str(chain n)), str as in <see cref="AuditCanonical"/>.</summary>
    public static byte[] ComputeIndexDigest(IReadOnlyList<string> chainIds)
    {
        var buffer = new ArrayBufferWriter<byte>(64 + chainIds.Count * 64);
        buffer.Write(IndexMagic);
        BinaryPrimitives.WriteUInt32BigEndian(buffer.GetSpan(4), (uint)chainIds.Count);
        buffer.Advance(4);
        foreach (string chainId in chainIds)
        {
            int length = Encoding.UTF8.GetByteCount(chainId);
            BinaryPrimitives.WriteUInt32BigEndian(buffer.GetSpan(4), (uint)length);
            buffer.Advance(4);
            Encoding.UTF8.GetBytes(chainId, buffer.GetSpan(length));
            buffer.Advance(length);
        }
        return SHA256.HashData(buffer.WrittenSpan);
    }
}
