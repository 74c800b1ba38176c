using System.Globalization;
using System.Security.Cryptography;

namespace CmpCluster.Grains.Audit;

/// <summary>The first thing wrong with a trail: the record's position in the stream (1-based), its chain and sequence.</summary>
public sealed record AuditVerificationError(long Position, string? ChainId, long? Sequence, string Reason)
{
    public override string ToString() => ChainId is null
        ? string.Create(CultureInfo.InvariantCulture, $"record #{Position}: {Reason}")
        : string.Create(CultureInfo.InvariantCulture, $"record #{Position} (chain {ChainId}, seq {Sequence}): {Reason}");
}

/// <summary>
/// Checks a trail record by record, in store (or export) order: every chain starts at sequence 1 on its genesis value,
/// sequences follow one another, each previousHash is the hash of the chain's preceding record, only checkpoints carry
/// signatures, each checkpoint's signature verifies under a trusted key and covers the chain index as it was
/// (<see cref="AuditCheckpoint"/>), every chain has at least one checkpoint, and the store's chain index (when given)
/// lists chains that have records, in the order of their first records. Stops at the first error.
/// </summary>
public sealed class AuditVerifier(AuditVerificationKeys keys)
{
    private readonly Dictionary<string, ChainState> _chains = new(StringComparer.Ordinal);
    private readonly List<string> _index = [];
    private readonly List<string> _notes = [];

    public long Records { get; private set; }
    public int Checkpoints { get; private set; }
    public int Chains => _index.Count;
    public AuditVerificationError? Error { get; private set; }

    /// <summary>Remarks that are not errors: records after a chain's last checkpoint, chains without a final checkpoint.</summary>
    public IReadOnlyList<string> Notes => _notes;

    /// <summary>Records an unreadable record at the next position.</summary>
    public bool Fail(string reason)
    {
        Error ??= new AuditVerificationError(++Records, null, null, reason);
        return false;
    }

    /// <summary>Checks the next record; false once an error is found.</summary>
    public bool Add(AuditRecord record, byte[]? claimedHash = null)
    {
        if (Error is not null)
        {
            return false;
        }
        long position = ++Records;
        byte[] hash = record.ComputeHash();
        string? reason = Check(record, hash, claimedHash);
        if (reason is not null)
        {
            Error = new AuditVerificationError(position, record.ChainId, record.Sequence, reason);
            return false;
        }
        return true;
    }

    /// <summary>The end-of-trail checks; <paramref name="storedIndex"/> is the store's chain index, read before the
    /// records (null for an export).</summary>
    public bool Complete(IReadOnlyList<string>? storedIndex = null)
    {
        if (Error is not null)
        {
            return false;
        }
        foreach (string chainId in _index)
        {
            ChainState chain = _chains[chainId];
            if (chain.Checkpoints == 0)
            {
                Error = new AuditVerificationError(Records, chainId, chain.Sequence, "the chain has no checkpoint: none of its records is signed");
                return false;
            }
            if (chain.Sequence > chain.CheckpointSequence)
            {
                _notes.Add(string.Create(CultureInfo.InvariantCulture,
                    $"chain {chainId}: {chain.Sequence - chain.CheckpointSequence} record(s) after its last checkpoint are not yet covered by a signature"));
            }
            else if (!chain.Final)
            {
                _notes.Add($"chain {chainId}: no final checkpoint (still running, or the process did not stop gracefully)");
            }
        }
        if (storedIndex is not null)
        {
            string? missing = storedIndex.FirstOrDefault(c => !_chains.ContainsKey(c));
            if (missing is not null)
            {
                Error = new AuditVerificationError(Records, missing, null, "the chain index lists this chain but the store has no record of it (chain removed)");
                return false;
            }
            // Read before the records: chains that started meanwhile may follow, but the listed ones come first, in order.
            if (storedIndex.Count > _index.Count || !storedIndex.SequenceEqual(_index.Take(storedIndex.Count)))
            {
                Error = new AuditVerificationError(Records, null, null, "the chain index does not list the chains in the order their first records were stored");
                return false;
            }
        }
        return true;
    }

    private string? Check(AuditRecord record, byte[] hash, byte[]? claimedHash)
    {
        if (claimedHash is not null && !CryptographicOperations.FixedTimeEquals(claimedHash, hash))
        {
            return "the record's content does not match its hash (record changed)";
        }
        if (!_chains.TryGetValue(record.ChainId, out ChainState? chain))
        {
            if (record.Sequence != 1)
            {
                return "the chain's first record has sequence " + record.Sequence.ToString(CultureInfo.InvariantCulture) + ", not 1 (records removed)";
            }
            if (!record.PreviousHash.AsSpan().SequenceEqual(AuditCanonical.Genesis(record.ChainId)))
            {
                return "the chain's first record does not reference the chain's genesis value";
            }
            chain = new ChainState();
            _chains.Add(record.ChainId, chain);
            _index.Add(record.ChainId);
        }
        else
        {
            if (chain.Final)
            {
                return "a record follows the chain's final checkpoint (record inserted)";
            }
            if (record.Sequence != chain.Sequence + 1)
            {
                return string.Create(CultureInfo.InvariantCulture,
                    $"sequence {record.Sequence} follows {chain.Sequence} (record removed, inserted or reordered)");
            }
            if (!record.PreviousHash.AsSpan().SequenceEqual(chain.Hash))
            {
                return string.Create(CultureInfo.InvariantCulture,
                    $"previousHash is not the hash of the chain's record {chain.Sequence} (that record or this one was changed, or one was replaced)");
            }
        }
        string? checkpointError = record.Type == AuditEventType.Checkpoint
            ? CheckCheckpoint(record, chain)
            : record.Signature is null ? null : "a record that is not a checkpoint carries a signature";
        if (checkpointError is not null)
        {
            return checkpointError;
        }
        chain.Sequence = record.Sequence;
        chain.Hash = hash;
        return null;
    }

    private string? CheckCheckpoint(AuditRecord record, ChainState chain)
    {
        if (!AuditCheckpoint.TryParse(record.Detail, out AuditCheckpoint checkpoint))
        {
            return "the checkpoint's detail is not key=…;chains=…;index=…";
        }
        if (record.Signature is null)
        {
            return "the checkpoint carries no signature";
        }
        if (!keys.Knows(checkpoint.KeyId))
        {
            return $"the checkpoint is signed by audit key {checkpoint.KeyId}, which is not among the trusted public keys";
        }
        if (!keys.Verify(checkpoint.KeyId, AuditCanonical.ToBeSigned(record), record.Signature))
        {
            return "the checkpoint's signature does not verify (checkpoint forged or changed)";
        }
        if (checkpoint.Chains > _index.Count)
        {
            return string.Create(CultureInfo.InvariantCulture,
                $"the checkpoint covers {checkpoint.Chains} chains but only {_index.Count} appear before it (a chain was removed)");
        }
        if (!AuditCheckpoint.ComputeIndexDigest(_index.GetRange(0, checkpoint.Chains)).AsSpan().SequenceEqual(checkpoint.IndexDigest))
        {
            return "the checkpoint's chain index digest does not match the chains before it (a chain was removed or reordered)";
        }
        Checkpoints++;
        chain.Checkpoints++;
        chain.CheckpointSequence = record.Sequence;
        chain.Final = checkpoint.Final;
        return null;
    }

    private sealed class ChainState
    {
        public long Sequence;
        public byte[] Hash = [];
        public int Checkpoints;
        public long CheckpointSequence;
        public bool Final;
    }
}
