using CmpCluster.Contracts;
using CmpCluster.Grains;
using CmpCluster.Grains.Revocation;
using CmpCluster.Tests.EndToEnd;
using CmpCluster.Tests.Grains;
using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Orleans.Core.Internal;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Storage;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.X509;
using Xunit;
using static CmpCluster.Tests.Revocation.RevocationTestSupport;

namespace CmpCluster.Tests.Revocation;

/// <summary>
/// The CA's compact revocation list: certificate grains hand their CRL entry to the CA, CRLs are built from that list
/// without reading certificates, expired entries leave (RFC 5280 §3.3), and state of the previous version still works.
/// </summary>
[Collection(CmpClusterCollection.Name)]
public sealed class RevocationListTests(CmpClusterFixture cluster) : IDisposable
{
    public void Dispose() => cluster.Clock.Reset();

    [Fact]
    public async Task A_revoked_certificate_is_on_the_crl_without_its_certificate_grain_being_read()
    {
        string serial = await IssueQuietlyAsync();
        DateTimeOffset invalidity = WholeSeconds(cluster.Clock.GetUtcNow().AddHours(-1));
        Assert.Equal(RevocationResult.Revoked, await Certificate(cluster, serial).RevokeAsync(
            new RevocationRequest(RevocationReason.AffiliationChanged, "test", invalidity)));

        CrlInfo crl = await Authority(cluster).IssueCrlAsync();

        X509CrlEntry entry = Assert.IsAssignableFrom<X509CrlEntry>(Entry(crl, serial));
        Assert.Equal(Org.BouncyCastle.Asn1.X509.CrlReason.AffiliationChanged, ReasonCode(entry));
        Assert.Equal(0, Reads(serial));
        CertificateAuthorityState stored = await StoredAsync<CertificateAuthorityState>("ca");
        RevokedEntry held = (await StoredAsync<RevokedList>("revoked")).Entries[serial];
        Assert.DoesNotContain(serial, stored.TrackedSerials);
        Assert.Empty(stored.Revoked); // the list is not in the marks every revocation writes
        Assert.Equal(invalidity, held.InvalidityDateTime);
        Assert.Equal(WholeSeconds(entry.RevocationDate), held.RevokedAtTime);
        // Only now read the certificate, for the notAfter the CA was handed.
        CertificateRecord record = (await Certificate(cluster, serial).GetAsync())!;
        Assert.Equal(RevokedEntry.NotAfterOf(record.Der!), held.NotAfterTime);
    }

    [Fact]
    public async Task A_released_hold_leaves_the_list_and_the_crl_without_reads()
    {
        string serial = await IssueQuietlyAsync();
        await Certificate(cluster, serial).RevokeAsync(new RevocationRequest(RevocationReason.CertificateHold, "test"));
        Assert.Equal(Org.BouncyCastle.Asn1.X509.CrlReason.CertificateHold, ReasonCode(Entry(await Authority(cluster).IssueCrlAsync(), serial)!));

        Assert.Equal(RevocationResult.Released, await Certificate(cluster, serial).RevokeAsync(new RevocationRequest(RevocationReason.RemoveFromCrl, "test")));
        CrlInfo released = await Authority(cluster).IssueCrlAsync();

        Assert.Null(Entry(released, serial));
        Assert.Equal(0, Reads(serial));
        CertificateAuthorityState stored = await StoredAsync<CertificateAuthorityState>("ca");
        Assert.False((await StoredAsync<RevokedList>("revoked")).Entries.ContainsKey(serial));
        Assert.DoesNotContain(serial, stored.TrackedSerials);
    }

    [Fact]
    public async Task An_expired_certificate_stays_on_the_first_crl_after_its_notAfter_and_leaves_the_next()
    {
        string serial = await IssueAsync(cluster);
        string live = await IssueAsync(cluster, CertificateStatus.Confirmed);
        await Certificate(cluster, serial).RevokeAsync(new RevocationRequest(RevocationReason.KeyCompromise, "test"));
        Assert.NotNull(Entry(await Authority(cluster).IssueCrlAsync(), serial));
        DateTimeOffset notAfter = (await StoredAsync<RevokedList>("revoked")).Entries[serial].NotAfterTime;

        cluster.Clock.Advance(notAfter - cluster.Clock.GetUtcNow() + TimeSpan.FromHours(1));
        CrlInfo first = await Authority(cluster).IssueCrlAsync();
        CrlInfo second = await Authority(cluster).IssueCrlAsync();

        // RFC 5280 §3.3: on one CRL issued beyond the certificate's validity period, then removed.
        Assert.True(first.ThisUpdate > notAfter);
        Assert.NotNull(Entry(first, serial));
        Assert.Null(Entry(second, serial));
        Assert.Null(Entry(second, live));
        Assert.Equal(Parse(second).GetRevokedCertificates()?.Count ?? 0, second.RevokedCount);
        Assert.False((await StoredAsync<RevokedList>("revoked")).Entries.ContainsKey(serial));
        using var dir = new TempDirectory("crl-expired");
        await AssertOpenSslVerifiesAsync(dir, first);
        await AssertOpenSslVerifiesAsync(dir, second);
    }

    [Fact]
    public async Task A_mark_whose_certificate_write_never_happened_is_settled_by_one_read_and_lists_nothing()
    {
        // A crash after the CA's write-ahead mark and before the certificate's own write: the certificate is not revoked.
        string serial = await IssueAsync(cluster);
        await Authority(cluster).TrackRevocationAsync(serial);
        await Authority(cluster).TrackRevocationAsync(serial); // idempotent
        CertificateAuthorityState marked = await StoredAsync<CertificateAuthorityState>("ca");
        Assert.Contains(serial, marked.TrackedSerials);
        Assert.True(marked.Dirty);

        CrlInfo crl = await Authority(cluster).IssueCrlAsync();
        CrlInfo next = await Authority(cluster).IssueCrlAsync();

        Assert.Null(Entry(crl, serial));
        Assert.Null(Entry(next, serial));
        Assert.Equal(1, Reads(serial));
        CertificateAuthorityState settled = await StoredAsync<CertificateAuthorityState>("ca");
        Assert.DoesNotContain(serial, settled.TrackedSerials);
        Assert.False((await StoredAsync<RevokedList>("revoked")).Entries.ContainsKey(serial));
    }

    [Fact]
    public async Task The_same_entry_handed_over_twice_is_listed_once()
    {
        string serial = await IssueAsync(cluster);
        DateTimeOffset now = WholeSeconds(cluster.Clock.GetUtcNow());
        var entry = RevokedEntry.Create(now, RevocationReason.Superseded, null, now.AddDays(1));

        await Authority(cluster).RevocationWrittenAsync(serial, entry);
        await Authority(cluster).RevocationWrittenAsync(serial, entry);
        CrlInfo crl = await Authority(cluster).IssueCrlAsync();

        Assert.Single(Parse(crl).GetRevokedCertificates(), e => e.SerialNumber.ToString(16).Equals(serial, StringComparison.OrdinalIgnoreCase));
        await Authority(cluster).RevocationWrittenAsync(serial, null);
        Assert.Null(Entry(await Authority(cluster).IssueCrlAsync(), serial));
    }

    [Fact]
    public async Task State_of_the_previous_version_with_tracked_serials_and_its_crl_still_yields_a_correct_crl()
    {
        string revoked = await IssueAsync(cluster);
        string live = await IssueAsync(cluster);
        await Certificate(cluster, revoked).RevokeAsync(new RevocationRequest(RevocationReason.CessationOfOperation, "test"));
        CrlInfo before = await Authority(cluster).IssueCrlAsync();

        // What the previous version stored: every tracked serial, no list, the CRL inside the CA state.
        await Cluster.GetGrain<ICrlGrain>(GrainKeys.CertificateAuthority(Ca)).AsReference<IGrainManagementExtension>().DeactivateOnIdle();
        long legacyNumber = before.Number + 1000;
        byte[] legacyCrl = before.Der;
        await RewriteStoredAsync<CertificateAuthorityState>("ca", legacy =>
        {
            legacy.Revoked.Clear();
            legacy.TrackedSerials = [revoked, live, NewSerialHex()];
            (legacy.CrlNumber, legacy.CrlDer, legacy.ThisUpdate, legacy.NextUpdate, legacy.RevokedCount) =
                (legacyNumber, legacyCrl, before.ThisUpdate, before.NextUpdate, before.RevokedCount);
        });
        await RewriteStoredAsync<PublishedCrl>("crl", published => published.Current = null);

        CrlInfo served = await Authority(cluster).GetCrlAsync();
        CrlInfo upgraded = await Authority(cluster).IssueCrlAsync();
        CrlInfo again = await Authority(cluster).IssueCrlAsync();

        Assert.Equal(legacyCrl, served.Der);
        Assert.Equal(legacyNumber + 1, upgraded.Number); // RFC 5280 §5.2.3: numbers keep increasing across the upgrade
        Assert.NotNull(Entry(upgraded, revoked));
        Assert.Null(Entry(upgraded, live));
        Assert.NotNull(Entry(again, revoked));
        Assert.Equal(1, Reads(revoked)); // read once, when the tracked serials were settled
        CertificateAuthorityState stored = await StoredAsync<CertificateAuthorityState>("ca");
        Assert.Empty(stored.TrackedSerials);
        Assert.Null(stored.CrlDer);
        Assert.Equal(RevocationReason.CessationOfOperation, (await StoredAsync<RevokedList>("revoked")).Entries[revoked].Reason);
        Assert.Equal(again.Number, (await StoredAsync<PublishedCrl>("crl")).Current!.Number);
        using var dir = new TempDirectory("crl-upgraded");
        await AssertOpenSslVerifiesAsync(dir, upgraded);
    }

    [Fact]
    public async Task A_revocation_writes_its_mark_without_the_list_and_the_mark_stays_until_a_written_list_has_its_entry()
    {
        string listed = await IssueQuietlyAsync();
        await Certificate(cluster, listed).RevokeAsync(new RevocationRequest(RevocationReason.KeyCompromise, "test"));
        await Authority(cluster).IssueCrlAsync();
        Assert.True((await StoredAsync<RevokedList>("revoked")).Entries.ContainsKey(listed));

        string next = await IssueAsync(cluster);
        await Certificate(cluster, next).RevokeAsync(new RevocationRequest(RevocationReason.Superseded, "test"));

        // What is durable right after the revocation: its mark, in marks that carry no list; the list as the last CRL left it.
        CertificateAuthorityState marks = await StoredAsync<CertificateAuthorityState>("ca");
        Assert.Contains(next, marks.TrackedSerials);
        Assert.Empty(marks.Revoked);
        Assert.False((await StoredAsync<RevokedList>("revoked")).Entries.ContainsKey(next));

        // A crash now loses the entry held in memory: the activation that follows reads the certificate once, for the mark.
        await Cluster.GetGrain<ICrlGrain>(GrainKeys.CertificateAuthority(Ca)).AsReference<IGrainManagementExtension>().DeactivateOnIdle();
        int readsBefore = Reads(next);
        CrlInfo crl = await Authority(cluster).IssueCrlAsync();

        Assert.NotNull(Entry(crl, next));
        Assert.NotNull(Entry(crl, listed));
        Assert.Equal(readsBefore + 1, Reads(next));
        Assert.Equal(0, Reads(listed));
        Assert.DoesNotContain(next, (await StoredAsync<CertificateAuthorityState>("ca")).TrackedSerials);
        Assert.Equal(RevocationReason.Superseded, (await StoredAsync<RevokedList>("revoked")).Entries[next].Reason);
    }

    [Fact]
    public async Task A_list_the_previous_version_kept_in_the_marks_moves_to_its_own_state_at_activation()
    {
        string serial = await IssueQuietlyAsync();
        await Certificate(cluster, serial).RevokeAsync(new RevocationRequest(RevocationReason.CessationOfOperation, "test"));
        await Authority(cluster).IssueCrlAsync();
        RevokedEntry entry = (await StoredAsync<RevokedList>("revoked")).Entries[serial];

        // What the previous version stored: the list inside the marks, no list of its own.
        await Cluster.GetGrain<ICrlGrain>(GrainKeys.CertificateAuthority(Ca)).AsReference<IGrainManagementExtension>().DeactivateOnIdle();
        await RewriteStoredAsync<CertificateAuthorityState>("ca", legacy => legacy.Revoked[serial] = entry);
        await RewriteStoredAsync<RevokedList>("revoked", list => list.Entries.Clear());

        CrlInfo crl = await Authority(cluster).IssueCrlAsync();

        Assert.NotNull(Entry(crl, serial));
        Assert.Equal(0, Reads(serial));
        Assert.Empty((await StoredAsync<CertificateAuthorityState>("ca")).Revoked);
        Assert.Equal(entry, (await StoredAsync<RevokedList>("revoked")).Entries[serial]);
    }

    [Fact]
    public void State_bytes_of_the_previous_version_read_as_tracked_serials_with_an_empty_list()
    {
        Serializer serializer = cluster.SiloServices.GetRequiredService<Serializer>();
        var legacy = new PreviousCertificateAuthorityState
        {
            CrlNumber = 7, TrackedSerials = ["0A", "0B"], Dirty = true, CrlDer = [0x30, 0x00], RevokedCount = 1,
            ThisUpdate = DateTimeOffset.UnixEpoch, NextUpdate = DateTimeOffset.UnixEpoch.AddDays(1),
        };

        CertificateAuthorityState state = serializer.Deserialize<CertificateAuthorityState>(serializer.SerializeToArray(legacy))!;

        Assert.Equal(7, state.CrlNumber);
        Assert.Equal(["0A", "0B"], state.TrackedSerials.Order());
        Assert.True(state.Dirty);
        Assert.Equal([0x30, 0x00], state.CrlDer);
        Assert.Equal(legacy.NextUpdate, state.NextUpdate);
        Assert.NotNull(state.Revoked);
        Assert.Empty(state.Revoked);
    }

    private IClusterClient Cluster => cluster.Client;

    /// <summary>
    /// A certificate issued once the CA has no CRL of an earlier test's revocation pending: a debounced CRL that runs between
    /// this test's revocation mark and its entry would read the certificate for the mark (what these tests count).
    /// </summary>
    private async Task<string> IssueQuietlyAsync()
    {
        string serial = await IssueAsync(cluster);
        await Task.Delay(CmpClusterFixture.CrlDebounce * 3);
        return serial;
    }

    private int Reads(string serialHex) =>
        cluster.CertificateReads.GetValueOrDefault(Cluster.GetGrain<ICertificateGrain>(GrainKeys.Certificate(Ca, serialHex)).GetGrainId());

    private GrainId AuthorityId => Cluster.GetGrain<ICrlGrain>(GrainKeys.CertificateAuthority(Ca)).GetGrainId();

    private IGrainStorage Storage => cluster.SiloServices.GetRequiredKeyedService<IGrainStorage>(GrainNames.Storage);

    /// <summary>The CA grain's state as last written to storage.</summary>
    private async Task<T> StoredAsync<T>(string stateName) where T : new()
    {
        var stored = new GrainState<T>();
        await Storage.ReadStateAsync(stateName, AuthorityId, stored);
        return stored.State ?? new T();
    }

    private async Task RewriteStoredAsync<T>(string stateName, Action<T> change) where T : new()
    {
        var stored = new GrainState<T>();
        await Storage.ReadStateAsync(stateName, AuthorityId, stored);
        stored.State ??= new T();
        change(stored.State);
        await Storage.WriteStateAsync(stateName, AuthorityId, stored);
    }

    /// <summary>The CRL as a relying party checks it: <c>openssl crl -verify</c> against the issuing CA.</summary>
    private async Task AssertOpenSslVerifiesAsync(TempDirectory dir, CrlInfo crl)
    {
        string caFile = dir.File("ca.pem");
        await File.WriteAllTextAsync(caFile, new string(System.Security.Cryptography.PemEncoding.Write(
            "CERTIFICATE", cluster.Ca.Ca.Certificate.GetEncoded(Asn1Encodable.Der))) + "\n");
        string crlFile = dir.File($"crl-{crl.Number}.der");
        await File.WriteAllBytesAsync(crlFile, crl.Der);
        OpenSslResult verify = await OpenSsl.RunAsync(dir.Path, "crl", "-in", crlFile, "-inform", "DER", "-CAfile", caFile, "-noout", "-verify");
        Assert.True(verify.Succeeded && verify.Output.Contains("verify OK", StringComparison.Ordinal), verify.ToString());
    }
}

/// <summary>The CA state as the previous version declared it (same field ids), to produce its bytes.</summary>
[GenerateSerializer]
[Alias("CmpCluster.Tests.PreviousCertificateAuthorityState")]
public sealed class PreviousCertificateAuthorityState
{
    [Id(0)] public long CrlNumber { get; set; }
    [Id(1)] public HashSet<string> TrackedSerials { get; set; } = [];
    [Id(2)] public bool Dirty { get; set; }
    [Id(3)] public byte[]? CrlDer { get; set; }
    [Id(4)] public DateTimeOffset ThisUpdate { get; set; }
    [Id(5)] public DateTimeOffset NextUpdate { get; set; }
    [Id(6)] public int RevokedCount { get; set; }
}
