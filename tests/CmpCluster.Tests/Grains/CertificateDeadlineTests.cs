using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Grains;
using CmpCluster.Grains.Audit;
using CmpCluster.Grains.Certificates;
using CmpCluster.Grains.Internal;
using CmpCluster.Grains.Pki;
using CmpCluster.Grains.Storage;
using CmpCluster.Protocol.Client;
using CmpCluster.Protocol.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Org.BouncyCastle.Asn1.X509;
using Xunit;
using PkiBodyType = CmpCluster.Contracts.PkiBodyType;

namespace CmpCluster.Tests.Grains;

/// <summary>
/// A certificate that awaits confirmation is its own write-ahead (grains/Certificates/CertificateIssuer.cs): its serial is
/// derived from the request, so the same request issued again gets the certificate already signed, and its record carries
/// a deadline the store indexes, so one that no stored transaction delivered is still revoked.
/// </summary>
[Collection(CmpClusterCollection.Name)]
public sealed class CertificateDeadlineTests(CmpClusterFixture cluster) : IDisposable
{
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public void Dispose()
    {
        // The clock is shared with the other classes of the collection, which send real-time messageTimes.
        cluster.Clock.Reset();
        _key.Dispose();
    }

    private IStateLifetimeIndex CertificateIndex => cluster.SiloServices.GetRequiredKeyedService<IStateLifetimeIndex>(GrainNames.Storage);

    /// <summary>What the transaction asks of the issuer for a request that will await confirmation.</summary>
    private IssuanceRequest Request(byte[] source, DateTimeOffset confirmBy)
    {
        CertificateAuthorityKeys ca = cluster.SiloServices.GetRequiredService<PkiKeyRing>().FindAuthority("issuing")!;
        CertificateProfileOptions profile = cluster.SiloServices.GetRequiredService<IOptions<CmpOptions>>().Value.Profiles["default"];
        return new IssuanceRequest(ca, profile, new X509Name($"CN=deadline-{Guid.NewGuid():N}"),
            SubjectPublicKeyInfo.GetInstance(_key.ExportSubjectPublicKeyInfo()), null, "test", "pbe/" + Convert.ToHexString(source[..8]), Confirmed: false)
        {
            SerialSource = source,
            ConfirmBy = confirmBy,
        };
    }

    private Task<IssuedCertificate> IssueAsync(IssuanceRequest request) =>
        cluster.Internal.RunAsync(_ => cluster.SiloServices.GetRequiredService<CertificateIssuer>().IssueAsync(request, reserved: null));

    [Fact]
    public async Task The_same_request_issued_again_gets_the_certificate_already_signed_and_another_request_a_new_serial()
    {
        byte[] source = RandomNumberGenerator.GetBytes(40);
        IssuanceRequest request = Request(source, cluster.Clock.GetUtcNow().AddMinutes(6));

        IssuedCertificate first = await IssueAsync(request);
        IssuedCertificate again = await IssueAsync(request);
        IssuedCertificate other = await IssueAsync(Request(RandomNumberGenerator.GetBytes(40), cluster.Clock.GetUtcNow().AddMinutes(6)));

        Assert.Equal(first.Key, again.Key);
        Assert.Equal(first.Der, again.Der);
        Assert.Single(cluster.AuditStore.Records, r => r.Target == first.Key && r.Type == AuditEventType.CertificateSigned);
        Assert.NotEqual(first.Key, other.Key);
        // 16 bytes, positive, at most 20 octets (RFC 5280 §4.1.2.2).
        Assert.InRange(X509CertificateStructure.GetInstance(first.Der).SerialNumber.Value.BitLength, 121, 128);
    }

    [Fact]
    public async Task A_certificate_no_stored_transaction_delivered_is_revoked_at_its_own_deadline()
    {
        DateTimeOffset confirmBy = cluster.Clock.GetUtcNow().AddMinutes(6);
        IssuedCertificate issued = await IssueAsync(Request(RandomNumberGenerator.GetBytes(40), confirmBy));
        GrainId grain = cluster.Client.GetGrain<ICertificateGrain>(issued.Key).GetGrainId();
        Assert.DoesNotContain(grain, await CertificateIndex.DueAsync(confirmBy.AddSeconds(-1), 10_000));
        Assert.Contains(grain, await CertificateIndex.DueAsync(confirmBy, 10_000));

        cluster.Clock.Advance(TimeSpan.FromMinutes(6) + TimeSpan.FromSeconds(1));
        await cluster.SweepAsync();

        CertificateRecord record = (await cluster.Internal.GetGrain<ICertificateGrain>(issued.Key).GetAsync())!;
        Assert.Equal(CertificateStatus.Revoked, record.Status);
        Assert.Equal(RevocationReason.CessationOfOperation, record.RevocationReason);
        // Revoked, the record is due no more.
        Assert.DoesNotContain(grain, await CertificateIndex.DueAsync(cluster.Clock.GetUtcNow(), 10_000));
    }

    [Fact]
    public async Task An_ir_awaiting_confirmation_puts_its_certificate_in_the_store_index_and_its_certConf_takes_it_out()
    {
        CmpClientSession session = CmpClusterFixture.NewSession();
        Exchange ip = await cluster.SendAsync(Aliases.Pbe, session, session.BuildEnrollment(initial: true, new X509Name($"CN=deadline-ir-{Guid.NewGuid():N}"), _key));
        ProtocolAssert.Granted(ip.View, PkiBodyType.Ip);
        CertificateRecord issued = await cluster.IssuedCertificateAsync(Aliases.Pbe, session);
        string key = GrainKeys.Certificate(issued.Intent.Ca, issued.Intent.SerialHex);
        GrainId grain = cluster.Client.GetGrain<ICertificateGrain>(key).GetGrainId();
        DateTimeOffset transactionDeadline = (await cluster.SnapshotAsync(Aliases.Pbe, session)).ConfirmDeadline!.Value;
        // After the transaction's own deadline, which acts first.
        Assert.True(issued.Intent.ConfirmBy > transactionDeadline);
        Assert.Contains(grain, await CertificateIndex.DueAsync(issued.Intent.ConfirmBy!.Value, 10_000));

        Exchange confirmed = await cluster.SendAsync(Aliases.Pbe, session, session.BuildCertConf(ip.View.CertificateDer!));

        Assert.Equal(PkiBodyType.PkiConf, confirmed.View.BodyType);
        Assert.DoesNotContain(grain, await CertificateIndex.DueAsync(issued.Intent.ConfirmBy!.Value, 10_000));
    }
}
