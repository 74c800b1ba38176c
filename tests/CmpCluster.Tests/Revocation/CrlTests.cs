using CmpCluster.Contracts;
using CmpCluster.Tests.Grains;
using Orleans.Runtime;
using Microsoft.Extensions.DependencyInjection;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.X509;
using Xunit;
using static CmpCluster.Tests.Revocation.RevocationTestSupport;

namespace CmpCluster.Tests.Revocation;

/// <summary>RFC 5280 §5: the CA's CRL, built from the certificate grains after each revocation and on demand.</summary>
[Collection(CmpClusterCollection.Name)]
public sealed class CrlTests(CmpClusterFixture cluster) : IDisposable
{
    public void Dispose() => cluster.Clock.Reset();

    [Fact]
    public async Task A_revocation_appears_on_the_next_crl_with_serial_reason_time_and_invalidity_date()
    {
        string serial = await IssueAsync(cluster);
        DateTimeOffset invalidity = WholeSeconds(cluster.Clock.GetUtcNow().AddHours(-2));
        Assert.Equal(RevocationResult.Revoked, await Certificate(cluster, serial).RevokeAsync(
            new RevocationRequest(RevocationReason.KeyCompromise, "test", invalidity)));
        CertificateRecord record = (await Certificate(cluster, serial).GetAsync())!;

        // No explicit issuance: the revocation itself schedules the CRL (debounced).
        CrlInfo crl = await WaitForCrlAsync(cluster, c => Entry(c, serial) is not null, $"serial {serial}");

        X509CrlEntry entry = Entry(crl, serial)!;
        Assert.Equal(WholeSeconds(record.RevokedAt!.Value).UtcDateTime, entry.RevocationDate);
        Assert.Equal(CrlReason.KeyCompromise, ReasonCode(entry));
        Asn1OctetString invalidityValue = entry.GetExtensionValue(X509Extensions.InvalidityDate)!;
        Assert.Equal(invalidity.UtcDateTime, Asn1GeneralizedTime.GetInstance(Asn1Object.FromByteArray(invalidityValue.GetOctets())).ToDateTime());
    }

    [Theory]
    [InlineData("issuing", "issuing", 0)]
    [InlineData("issuing.k1", "issuing", 1)]
    [InlineData("tls-k1.k12", "tls-k1", 12)]
    public void A_crl_name_gives_its_ca_and_key_generation_and_back(string name, string ca, int generation)
    {
        Assert.True(CrlNames.TryParse(name, out string parsedCa, out int parsedGeneration));
        Assert.Equal((ca, generation), (parsedCa, parsedGeneration));
        Assert.Equal(name, CrlNames.Of(ca, generation));
    }

    [Theory]
    [InlineData("issuing.k0")]
    [InlineData("issuing.k01")]
    [InlineData("issuing.k")]
    [InlineData("issuing.k-1")]
    [InlineData("issuing.kx")]
    public void A_crl_name_no_key_generation_makes_is_refused(string name) => Assert.False(CrlNames.TryParse(name, out _, out _));

    [Fact]
    public async Task The_crl_is_a_v2_crl_signed_by_the_ca_with_its_key_identifier_and_number()
    {
        CrlInfo info = await Authority(cluster).IssueCrlAsync();
        X509Crl crl = Parse(info);

        Assert.Equal(2, crl.Version);
        Assert.Equal(cluster.Ca.Ca.Certificate.Subject, crl.IssuerDN);
        Assert.Equal(cluster.Ca.Ca.Signer.Algorithm.Algorithm.Id, crl.SigAlgOid);
        Assert.True(Verifies(cluster.Ca.Ca, crl.GetTbsCertList(), crl.GetSignature()), "CRL signature verifies with the CA key");
        var aki = AuthorityKeyIdentifier.GetInstance(Asn1Object.FromByteArray(crl.GetExtensionValue(X509Extensions.AuthorityKeyIdentifier)!.GetOctets()));
        Assert.Equal(cluster.Ca.Ca.SubjectKeyIdentifier, aki.KeyIdentifier.GetOctets());
        var number = DerInteger.GetInstance(Asn1Object.FromByteArray(crl.GetExtensionValue(X509Extensions.CrlNumber)!.GetOctets()));
        Assert.Equal(info.Number, number.LongValueExact);
    }

    [Fact]
    public async Task Crl_numbers_strictly_increase()
    {
        CrlInfo first = await Authority(cluster).IssueCrlAsync();
        CrlInfo second = await Authority(cluster).IssueCrlAsync();
        string serial = await IssueAsync(cluster);
        await Certificate(cluster, serial).RevokeAsync(new RevocationRequest(RevocationReason.Superseded, "test"));
        CrlInfo third = await WaitForCrlAsync(cluster, c => Entry(c, serial) is not null, $"serial {serial}");

        Assert.True(first.Number < second.Number && second.Number < third.Number, $"numbers {first.Number}, {second.Number}, {third.Number}");
        Assert.True(first.Number >= 1);
    }

    [Fact]
    public async Task ThisUpdate_comes_from_the_clock_and_nextUpdate_adds_the_configured_validity()
    {
        cluster.Clock.Advance(TimeSpan.FromHours(3));
        DateTimeOffset before = WholeSeconds(cluster.Clock.GetUtcNow());

        CrlInfo info = await Authority(cluster).IssueCrlAsync();

        DateTimeOffset after = cluster.Clock.GetUtcNow();
        Assert.InRange(info.ThisUpdate, before, after);
        Assert.Equal(TimeSpan.FromDays(1), info.NextUpdate - info.ThisUpdate); // Pki:Crl:Validity default
        X509Crl crl = Parse(info);
        Assert.Equal(info.ThisUpdate.UtcDateTime, crl.ThisUpdate);
        Assert.Equal(info.NextUpdate.UtcDateTime, crl.NextUpdate);
    }

    [Fact]
    public async Task A_crl_past_its_nextUpdate_is_replaced_when_asked_for()
    {
        CrlInfo current = await Authority(cluster).IssueCrlAsync();
        cluster.Clock.Advance(TimeSpan.FromDays(1) + TimeSpan.FromMinutes(1));

        CrlInfo fresh = await Authority(cluster).GetCrlAsync();

        Assert.True(fresh.Number > current.Number);
        Assert.True(fresh.NextUpdate > cluster.Clock.GetUtcNow());
    }

    [Fact]
    public async Task A_revocation_after_the_last_crl_appears_in_the_next_one_and_unspecified_has_no_reason_code()
    {
        string serial = await IssueAsync(cluster);
        CrlInfo before = await Authority(cluster).IssueCrlAsync();
        Assert.Null(Entry(before, serial));

        await Certificate(cluster, serial).RevokeAsync(new RevocationRequest(RevocationReason.Unspecified, "test"));
        CrlInfo next = await Authority(cluster).IssueCrlAsync();

        X509CrlEntry entry = Assert.IsAssignableFrom<X509CrlEntry>(Entry(next, serial));
        Assert.Null(ReasonCode(entry)); // RFC 5280 §5.3.1: omitted rather than unspecified
    }

    [Fact]
    public async Task A_released_hold_leaves_the_crl()
    {
        string serial = await IssueAsync(cluster);
        await Certificate(cluster, serial).RevokeAsync(new RevocationRequest(RevocationReason.CertificateHold, "test"));
        CrlInfo held = await WaitForCrlAsync(cluster, c => Entry(c, serial) is not null, $"serial {serial} on hold");
        Assert.Equal(CrlReason.CertificateHold, ReasonCode(Entry(held, serial)!));

        Assert.Equal(RevocationResult.Released, await Certificate(cluster, serial).RevokeAsync(new RevocationRequest(RevocationReason.RemoveFromCrl, "test")));

        CrlInfo released = await WaitForCrlAsync(cluster, c => c.Number > held.Number && Entry(c, serial) is null, $"serial {serial} gone");
        Assert.Null(Entry(released, serial));
    }

    [Fact]
    public async Task Certificates_that_are_not_revoked_are_not_listed()
    {
        string live = await IssueAsync(cluster);
        string awaiting = await IssueAsync(cluster, CertificateStatus.AwaitingConfirmation);

        CrlInfo crl = await Authority(cluster).IssueCrlAsync();

        Assert.Null(Entry(crl, live));
        Assert.Null(Entry(crl, awaiting));
        Assert.Equal(Parse(crl).GetRevokedCertificates()?.Count ?? 0, crl.RevokedCount);
    }

    [Fact]
    public async Task The_silo_start_registered_the_durable_crl_reminder()
    {
        GrainId id = cluster.Client.GetGrain<ICrlGrain>(GrainKeys.CertificateAuthority(Ca)).GetGrainId(); // a reference, not a call
        ReminderTableData rows = await cluster.SiloServices.GetRequiredService<IReminderTable>().ReadRows(id);
        Assert.Contains(rows.Reminders, r => r.ReminderName == "crl-renew");
    }
}
