using CmpCluster.Contracts;
using CmpCluster.Grains.Audit;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using Xunit;

namespace CmpCluster.Tests.Audit;

/// <summary>
/// The registration grain tests use (<c>AddCmpAudit().AddInMemoryAuditStore()</c>) in an in-process silo: the trail
/// starts with the silo, the export grain pages through it, and stopping the silo writes the final checkpoint.
/// </summary>
public sealed class AuditSiloTests
{
    [Fact]
    public async Task The_trail_lives_with_the_silo_and_the_export_grain_reads_it()
    {
        var builder = new InProcessTestClusterBuilder(1);
        builder.Options.ConfigureFileLogging = false;
        builder.ConfigureSilo((_, silo) => silo.Services.AddCmpAudit().AddInMemoryAuditStore());
        InProcessTestCluster cluster = builder.Build();
        InMemoryAuditStore store;
        AuditSigningKey key;
        try
        {
            await cluster.DeployAsync();
            IServiceProvider services = cluster.GetSiloServiceProvider();
            store = services.GetRequiredService<InMemoryAuditStore>();
            key = services.GetRequiredService<AuditSigningKey>();
            await services.GetRequiredService<IAuditTrail>().AppendAsync(new AuditEvent(AuditEventType.AdminAction, "admin API", "end-entity gnb-1", "created"));

            IAuditExportGrain export = cluster.Client.GetGrain<IAuditExportGrain>("all");
            AuditExportPage first = await export.ReadAsync(null, 2);
            Assert.Equal(2, first.Lines.Count);
            Assert.True(first.More);
            AuditExportPage rest = await export.ReadAsync(first.NextCursor, AuditExportPage.MaxLimit);
            Assert.False(rest.More);
            List<AuditRecord> records = AuditTesting.Parse(first.Lines.Concat(rest.Lines));
            Assert.Equal([AuditEventType.KeyLoaded, AuditEventType.Checkpoint, AuditEventType.AdminAction], records.Select(r => r.Type));
            await Assert.ThrowsAsync<ArgumentException>(() => export.ReadAsync("not-a-cursor", 10));
        }
        finally
        {
            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
        }
        AuditRecord last = store.Records[^1];
        Assert.True(AuditCheckpoint.TryParse(last.Detail, out AuditCheckpoint final) && final.Final, "no final checkpoint at silo stop");
        AuditVerifier verifier = AuditTesting.Verify(store.Records.Select(AuditJson.ToLine), key);
        Assert.True(verifier.Error is null, verifier.Error?.ToString());
    }
}
