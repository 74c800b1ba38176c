using CmpCluster.Grains.Audit;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace CmpCluster.Tests.Audit;

/// <summary>Builds trails over real stores and reads them back, as a silo and the verify command do.</summary>
internal static class AuditTesting
{
    public static AuditTrail Trail(IAuditStore store, AuditSigningKey key, string node = "node-a", int maxBatchSize = 256, TimeSpan? maxBatchDelay = null) =>
        new(store, key, Options.Create(new AuditOptions
        {
            NodeName = node,
            MaxBatchSize = maxBatchSize,
            MaxBatchDelay = maxBatchDelay ?? TimeSpan.Zero,
        }), TimeProvider.System, NullLogger<AuditTrail>.Instance, []);

    public static AuditEvent Event(int i, string actor = "ra") =>
        new(AuditEventType.CertificateSigned, actor, $"issuing/{i:X6}", $"transaction={i:x8}");

    /// <summary>Every record of the store, read in pages of <paramref name="pageSize"/> by following the cursor.</summary>
    public static async Task<List<AuditRecord>> ReadAllAsync(IAuditStore store, int pageSize = 7)
    {
        var records = new List<AuditRecord>();
        string? cursor = null;
        while (true)
        {
            AuditPage page = await store.ReadAsync(cursor, pageSize);
            records.AddRange(page.Records);
            if (page.Records.Count == 0)
            {
                return records;
            }
            cursor = page.NextCursor;
        }
    }

    /// <summary>A trail with one chain: start (4 records: KeyLoaded, checkpoint… ), <paramref name="events"/> events, a
    /// checkpoint in the middle, then a graceful stop; returned as JSON Lines as the export writes them.</summary>
    public static async Task<List<string>> ExportOfOneChainAsync(AuditSigningKey key, int events = 10)
    {
        var store = new InMemoryAuditStore();
        AuditTrail trail = Trail(store, key);
        await trail.StartAsync();
        for (int i = 0; i < events; i++)
        {
            await trail.AppendAsync(Event(i));
            if (i == events / 2)
            {
                await trail.CheckpointAsync();
            }
        }
        await trail.StopAsync();
        return store.Records.Select(AuditJson.ToLine).ToList();
    }

    public static AuditVerifier Verify(IEnumerable<string> lines, params AuditSigningKey[] trusted)
    {
        var keys = new AuditVerificationKeys();
        foreach (AuditSigningKey key in trusted)
        {
            keys.Add(key);
        }
        var verifier = new AuditVerifier(keys);
        foreach (string line in lines)
        {
            AuditRecord record = AuditJson.Parse(line, out byte[]? claimedHash);
            if (!verifier.Add(record, claimedHash))
            {
                return verifier;
            }
        }
        verifier.Complete();
        return verifier;
    }

    /// <summary>What an attacker who can write the store but has no audit key does after an edit: recompute every
    /// previousHash (and drop the claimed hashes) so the chain links again. Only the checkpoint signatures remain.</summary>
    public static List<string> Relink(IEnumerable<AuditRecord> records, Func<AuditRecord, AuditRecord>? finish = null)
    {
        var heads = new Dictionary<string, (long Sequence, byte[] Hash)>();
        var lines = new List<string>();
        foreach (AuditRecord original in records)
        {
            (long sequence, byte[] hash) = heads.TryGetValue(original.ChainId, out var head) ? head : (0, AuditCanonical.Genesis(original.ChainId));
            AuditRecord record = original with { Sequence = sequence + 1, PreviousHash = hash };
            record = finish?.Invoke(record) ?? record;
            heads[record.ChainId] = (record.Sequence, record.ComputeHash());
            lines.Add(AuditJson.ToLine(record));
        }
        return lines;
    }

    public static List<AuditRecord> Parse(IEnumerable<string> lines) => lines.Select(l => AuditJson.Parse(l, out _)).ToList();
}
