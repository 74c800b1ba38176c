using CmpCluster.Grains.Audit;
using Xunit;

namespace CmpCluster.Tests.Audit;

/// <summary>
/// Edits to a JSON Lines export are found: a changed, removed, reordered or inserted record, both as a plain edit of
/// the file and by an attacker who also recomputes every hash link (then only the checkpoint signatures catch it),
/// forged checkpoint signatures, and a whole chain removed.
/// </summary>
public sealed class AuditExportTamperTests : IDisposable
{
    // Record numbers (1-based) of ExportOfOneChainAsync(key, 10): 1 KeyLoaded, 2 checkpoint, 3..8 events, 9 checkpoint,
    // 10..13 events, 14 final checkpoint.
    private const int Target = 5;
    private readonly AuditSigningKey _key = AuditSigningKey.Ephemeral();

    public void Dispose() => _key.Dispose();

    [Fact]
    public async Task An_untouched_export_verifies()
    {
        List<string> lines = await AuditTesting.ExportOfOneChainAsync(_key);
        AuditVerifier verifier = AuditTesting.Verify(lines, _key);
        Assert.True(verifier.Error is null, verifier.Error?.ToString());
        Assert.Equal(14, verifier.Records);
        Assert.Equal(1, verifier.Chains);
        Assert.Equal(3, verifier.Checkpoints);
        Assert.Empty(verifier.Notes);
    }

    [Theory]
    [InlineData("changed", 5, "does not match its hash")]
    [InlineData("removed", 5, "sequence 6 follows 4")]
    [InlineData("reordered", 5, "sequence 6 follows 4")]
    [InlineData("inserted", 6, "sequence 5 follows 5")]
    public async Task An_edited_export_fails_at_the_edit(string edit, long position, string reason)
    {
        List<string> lines = await AuditTesting.ExportOfOneChainAsync(_key);
        Edit(lines, edit);
        AuditVerifier verifier = AuditTesting.Verify(lines, _key);
        Assert.NotNull(verifier.Error);
        Assert.Equal(position, verifier.Error.Position);
        Assert.Contains(reason, verifier.Error.Reason);
    }

    [Theory]
    [InlineData("changed")]
    [InlineData("removed")]
    [InlineData("reordered")]
    [InlineData("inserted")]
    public async Task Relinking_after_an_edit_breaks_the_next_checkpoint_signature(string edit)
    {
        List<string> lines = await AuditTesting.ExportOfOneChainAsync(_key);
        Edit(lines, edit);
        List<string> relinked = AuditTesting.Relink(AuditTesting.Parse(lines));
        AuditVerifier verifier = AuditTesting.Verify(relinked, _key);
        Assert.NotNull(verifier.Error);
        Assert.Contains("signature does not verify", verifier.Error.Reason);
        Assert.Equal(AuditEventType.Checkpoint, AuditJson.Parse(relinked[(int)verifier.Error.Position - 1], out _).Type);
    }

    [Fact]
    public async Task A_changed_checkpoint_signature_is_found()
    {
        List<string> lines = await AuditTesting.ExportOfOneChainAsync(_key);
        AuditRecord final = AuditJson.Parse(lines[^1], out _);
        byte[] signature = final.Signature!.ToArray();
        signature[^1] ^= 0x01;
        lines[^1] = AuditJson.ToLine(final with { Signature = signature });
        AuditVerifier verifier = AuditTesting.Verify(lines, _key);
        Assert.Equal(14, verifier.Error?.Position);
        Assert.Contains("signature does not verify", verifier.Error!.Reason);
    }

    [Fact]
    public async Task Checkpoints_re_signed_with_another_key_are_found_whichever_key_id_they_name()
    {
        List<string> lines = await AuditTesting.ExportOfOneChainAsync(_key);
        using AuditSigningKey forger = AuditSigningKey.Ephemeral();
        foreach (bool claimTrustedKeyId in new[] { true, false })
        {
            List<AuditRecord> records = AuditTesting.Parse(lines);
            records[Target - 1] = records[Target - 1] with { Actor = "mallory" };
            List<string> forged = AuditTesting.Relink(records, record =>
            {
                if (record.Type != AuditEventType.Checkpoint)
                {
                    return record;
                }
                AuditCheckpoint.TryParse(record.Detail, out AuditCheckpoint checkpoint);
                record = record with { Detail = (checkpoint with { KeyId = claimTrustedKeyId ? _key.KeyId : forger.KeyId }).Format(), Signature = null };
                return record with { Signature = forger.Sign(AuditCanonical.ToBeSigned(record)) };
            });
            if (!claimTrustedKeyId)
            {
                Assert.True(AuditTesting.Verify(forged, forger).Error is null, "the forgery is consistent in itself");
            }
            AuditVerifier verifier = AuditTesting.Verify(forged, _key);
            Assert.NotNull(verifier.Error);
            Assert.Contains(claimTrustedKeyId ? "signature does not verify" : "not among the trusted public keys", verifier.Error.Reason);
        }
    }

    [Fact]
    public async Task A_record_appended_after_the_final_checkpoint_is_found()
    {
        List<string> lines = await AuditTesting.ExportOfOneChainAsync(_key);
        AuditRecord last = AuditJson.Parse(lines[^1], out _);
        lines.Add(AuditJson.ToLine(new AuditRecord(last.ChainId, last.Sequence + 1, last.Time, AuditEventType.CertificateRevoked,
            "ra", "issuing/000001", null, last.ComputeHash())));
        AuditVerifier verifier = AuditTesting.Verify(lines, _key);
        Assert.Contains("follows the chain's final checkpoint", verifier.Error?.Reason);
    }

    [Theory]
    [InlineData("node-a")]
    [InlineData("node-b")]
    public async Task A_whole_chain_removed_is_found_by_the_other_chains_checkpoint(string removed)
    {
        var store = new InMemoryAuditStore();
        AuditTrail a = AuditTesting.Trail(store, _key, "node-a");
        AuditTrail b = AuditTesting.Trail(store, _key, "node-b");
        await a.StartAsync();
        await a.AppendAsync(AuditTesting.Event(1));
        await b.StartAsync();
        await b.AppendAsync(AuditTesting.Event(2));
        await a.CheckpointAsync(); // node-a attests that node-b's chain exists
        await b.StopAsync();
        await a.StopAsync();
        List<string> lines = store.Records.Select(AuditJson.ToLine).ToList();
        Assert.True(AuditTesting.Verify(lines, _key).Error is null);

        string chain = removed == "node-a" ? a.ChainId : b.ChainId;
        List<string> pruned = lines.Where(l => AuditJson.Parse(l, out _).ChainId != chain).ToList();
        AuditVerifier verifier = AuditTesting.Verify(pruned, _key);
        Assert.NotNull(verifier.Error);
        Assert.Contains("a chain was removed", verifier.Error.Reason);
    }

    [Fact]
    public async Task The_stores_chain_index_must_list_chains_with_records_first_in_their_order()
    {
        var store = new InMemoryAuditStore();
        AuditTrail a = AuditTesting.Trail(store, _key, "node-a");
        AuditTrail b = AuditTesting.Trail(store, _key, "node-b");
        await a.StartAsync();
        await b.StartAsync();
        await a.StopAsync();
        await b.StopAsync();
        List<string> lines = store.Records.Select(AuditJson.ToLine).ToList();
        foreach ((string[] index, string? error) in new (string[], string?)[]
        {
            ([a.ChainId, b.ChainId], null),
            ([a.ChainId], null), // read before node-b started
            ([b.ChainId, a.ChainId], "order their first records were stored"),
            ([a.ChainId, b.ChainId, "node-c/20261203T000000.000Z-000000"], "chain removed"),
        })
        {
            AuditVerifier verifier = AuditTesting.Verify([], _key);
            Assert.All(AuditTesting.Parse(lines), r => Assert.True(verifier.Add(r)));
            Assert.Equal(error is null, verifier.Complete(index));
            if (error is not null)
            {
                Assert.Contains(error, verifier.Error!.Reason);
            }
        }
    }

    private static void Edit(List<string> lines, string edit)
    {
        int i = Target - 1;
        switch (edit)
        {
            case "changed":
                lines[i] = lines[i].Replace("\"actor\":\"ra\"", "\"actor\":\"mallory\"", StringComparison.Ordinal);
                Assert.Contains("mallory", lines[i]);
                break;
            case "removed":
                lines.RemoveAt(i);
                break;
            case "reordered":
                (lines[i], lines[i + 1]) = (lines[i + 1], lines[i]);
                break;
            case "inserted":
                // A well-formed record linked to its predecessor, slipped in before the original record 5.
                AuditRecord previous = AuditJson.Parse(lines[i - 1], out _);
                var forged = new AuditRecord(previous.ChainId, previous.Sequence + 1, previous.Time, AuditEventType.CertificateRevoked,
                    "ra", "issuing/00BEEF", "forged", previous.ComputeHash());
                lines.Insert(i, AuditJson.ToLine(forged));
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(edit), edit, null);
        }
    }
}
