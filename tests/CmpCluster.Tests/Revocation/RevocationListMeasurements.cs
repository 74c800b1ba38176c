using System.Diagnostics;
using CmpCluster.Contracts;
using CmpCluster.Grains.Revocation;
using CmpCluster.Tests.Grains;
using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Orleans.Core.Internal;
using Orleans.Runtime;
using Orleans.Serialization;
using Xunit;
using Xunit.Abstractions;
using static CmpCluster.Tests.Revocation.RevocationTestSupport;

namespace CmpCluster.Tests.Revocation;

/// <summary>
/// What the CA's revocation state costs at volume, printed for docs/BENCHMARKS.md. The size check always runs; the
/// CRL build with 10 000 real certificate grains runs only with CMP_MEASURE_CRL=1 (it issues and revokes them all).
/// </summary>
[Collection(CmpClusterCollection.Name)]
public sealed class RevocationListMeasurements(CmpClusterFixture cluster, ITestOutputHelper output)
{
    [Theory]
    [InlineData(10_000)]
    [InlineData(100_000)]
    public void The_stored_revocation_list_takes_a_few_dozen_bytes_per_revoked_certificate(int count)
    {
        Serializer serializer = cluster.SiloServices.GetRequiredService<Serializer>();
        DateTimeOffset now = WholeSeconds(DateTimeOffset.UtcNow);
        var list = new RevokedList();
        var previous = new CertificateAuthorityState { CrlNumber = 12_345 };
        for (int i = 0; i < count; i++)
        {
            string serial = NewSerialHex();
            // Every fourth with an invalidity date, as a key compromise would carry (RFC 5280 §5.3.2).
            list.Entries[serial] = RevokedEntry.Create(now.AddSeconds(-i), RevocationReason.KeyCompromise,
                i % 4 == 0 ? now.AddDays(-1) : null, now.AddDays(365));
            previous.TrackedSerials.Add(serial);
        }
        var stopwatch = Stopwatch.StartNew();
        byte[] crl = CrlBuilder.Build(cluster.Ca.Ca, 1, now, now.AddDays(1),
            list.Entries.Select(e => new CrlEntry(e.Key, e.Value.RevokedAtTime, e.Value.Reason, e.Value.InvalidityDateTime)));
        TimeSpan build = stopwatch.Elapsed;
        previous.CrlDer = crl;

        serializer.SerializeToArray(list); // warm
        stopwatch.Restart();
        int listBytes = serializer.SerializeToArray(list).Length;
        TimeSpan serialize = stopwatch.Elapsed;
        int crlBytes = serializer.SerializeToArray(new PublishedCrl { Current = new CrlInfo(crl, 1, now, now.AddDays(1), count) }).Length;
        int previousBytes = serializer.SerializeToArray(previous).Length;
        RevokedList back = serializer.Deserialize<RevokedList>(serializer.SerializeToArray(list))!;

        output.WriteLine($"entries={count} revokedList={listBytes} B ({(double)listBytes / count:F1} B/entry) crlState={crlBytes} B " +
            $"previousVersionState={previousBytes} B (tracked serials + CRL) crlBuild(list only)={build.TotalMilliseconds:F0} ms " +
            $"serializeList={serialize.TotalMilliseconds:F1} ms");
        Assert.Equal(list.Entries, back.Entries);
        Assert.InRange(listBytes, count * 32, count * 64);
    }

    [Fact]
    public async Task Crl_build_from_the_list_and_by_reading_every_certificate_grain()
    {
        if (Environment.GetEnvironmentVariable("CMP_MEASURE_CRL") != "1")
        {
            output.WriteLine("set CMP_MEASURE_CRL=1 to measure");
            return;
        }
        const int Count = 10_000;
        var serials = new List<string>(Count);
        for (int i = 0; i < Count; i += 100)
        {
            string[] batch = await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => IssueAsync(cluster)));
            // Held, so the measurement can release them and leave the CA's list as it found it.
            await Task.WhenAll(batch.Select(s => Certificate(cluster, s).RevokeAsync(new RevocationRequest(RevocationReason.CertificateHold, "measure"))));
            serials.AddRange(batch);
        }
        TimeSpan fromList = TimeSpan.MaxValue;
        CrlInfo crl = await Authority(cluster).IssueCrlAsync(); // warm
        // CRLs debounced during the burst read the certificates whose entry was still in flight; none is left now.
        int readsBefore = serials.Sum(serial => Reads(serial));
        for (int run = 0; run < 3; run++)
        {
            var stopwatch = Stopwatch.StartNew();
            crl = await Authority(cluster).IssueCrlAsync();
            fromList = stopwatch.Elapsed < fromList ? stopwatch.Elapsed : fromList;
        }
        Assert.Equal(readsBefore, serials.Sum(serial => Reads(serial)));

        // The previous version's every CRL: one read of every tracked certificate grain, 64 at a time; its grains were
        // active when just revoked, cold (activated from storage) when revoked long ago.
        TimeSpan warm = await BuildReadingEveryCertificateAsync(serials, deactivateFirst: false);
        TimeSpan cold = await BuildReadingEveryCertificateAsync(serials, deactivateFirst: true);

        output.WriteLine($"entries={crl.RevokedCount} crl={crl.Der.Length} B crlBuild(list, best of 3)={fromList.TotalMilliseconds:F0} ms " +
            $"crlBuild(reading {Count} active certificate grains)={warm.TotalMilliseconds:F0} ms (inactive)={cold.TotalMilliseconds:F0} ms");
        Assert.True(crl.RevokedCount >= Count);
        for (int i = 0; i < Count; i += 100)
        {
            await Task.WhenAll(serials.Skip(i).Take(100).Select(s =>
                Certificate(cluster, s).RevokeAsync(new RevocationRequest(RevocationReason.RemoveFromCrl, "measure"))));
        }
    }

    private async Task<TimeSpan> BuildReadingEveryCertificateAsync(List<string> serials, bool deactivateFirst)
    {
        await Task.WhenAll(serials.Select(serial => Authority(cluster).TrackRevocationAsync(serial)));
        if (deactivateFirst)
        {
            await Task.WhenAll(serials.Select(serial => cluster.Client.GetGrain<ICertificateGrain>(GrainKeys.Certificate(Ca, serial))
                .AsReference<IGrainManagementExtension>().DeactivateOnIdle().AsTask()));
        }
        int readsBefore = serials.Sum(serial => Reads(serial));
        var stopwatch = Stopwatch.StartNew();
        CrlInfo crl = await Authority(cluster).IssueCrlAsync();
        TimeSpan elapsed = stopwatch.Elapsed;
        Assert.Equal(serials.Count, serials.Sum(serial => Reads(serial)) - readsBefore);
        Assert.True(crl.RevokedCount >= serials.Count);
        return elapsed;
    }

    private int Reads(string serialHex) =>
        cluster.CertificateReads.GetValueOrDefault(cluster.Client.GetGrain<ICertificateGrain>(GrainKeys.Certificate(Ca, serialHex)).GetGrainId());
}
