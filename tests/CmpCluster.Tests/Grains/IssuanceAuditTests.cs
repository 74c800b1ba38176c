using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Grains.Audit;
using CmpCluster.Protocol.Client;
using Org.BouncyCastle.Asn1.X509;
using Xunit;

namespace CmpCluster.Tests.Grains;

/// <summary>The audit write is part of the issuance cycle: every step is recorded, and without the trail nothing is signed.</summary>
[Collection(CmpClusterCollection.Name)]
public sealed class IssuanceAuditTests(CmpClusterFixture cluster) : IDisposable
{
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public void Dispose()
    {
        cluster.AuditStore.Unavailable = false;
        _key.Dispose();
    }

    [Fact]
    public async Task An_enrollment_records_its_signature_with_the_intent_then_its_confirmation()
    {
        CmpClientSession session = CmpClusterFixture.NewSession();
        Exchange ip = await cluster.SendAsync(Aliases.Pbe, session,
            session.BuildEnrollment(initial: true, new X509Name($"CN=audited-{Guid.NewGuid():N}"), _key));
        byte[] certificate = ip.View.CertificateDer!;
        await cluster.SendAsync(Aliases.Pbe, session, session.BuildCertConf(certificate));
        string key = (await cluster.IssuedCertificateAsync(Aliases.Pbe, session)).Intent is { } intent
            ? GrainKeys.Certificate(intent.Ca, intent.SerialHex) : "";

        AuditEventType[] recorded = cluster.AuditStore.Records.Where(r => r.Target == key).Select(r => r.Type).ToArray();
        Assert.Equal([AuditEventType.CertificateSigned, AuditEventType.CertificateConfirmed], recorded);
        // The one record before the signature names what was asked for: subject, profile, transaction and key.
        AuditRecord signed = cluster.AuditStore.Records.Single(r => r.Target == key && r.Type == AuditEventType.CertificateSigned);
        Assert.Contains("subject=", signed.Detail);
        Assert.Contains("transaction=" + GrainKeys.Transaction(Aliases.Pbe, session.TransactionId), signed.Detail);
        Assert.Contains("key=sha256:", signed.Detail);
    }

    [Fact]
    public async Task Without_the_audit_trail_nothing_is_signed_and_the_client_gets_systemUnavail()
    {
        int before = cluster.AuditStore.Records.Count;
        cluster.AuditStore.Unavailable = true;
        CmpClientSession session = CmpClusterFixture.NewSession();
        Exchange refused = await cluster.SendAsync(Aliases.Pbe, session,
            session.BuildEnrollment(initial: true, new X509Name($"CN=unaudited-{Guid.NewGuid():N}"), _key));
        cluster.AuditStore.Unavailable = false;

        ProtocolAssert.Rejected(refused.View, PkiFailureInfo.SystemUnavail);
        Assert.Empty((await cluster.SnapshotAsync(Aliases.Pbe, session)).CertificateKeys);
        Assert.Equal(before, cluster.AuditStore.Records.Count);
    }

    [Fact]
    public async Task A_failed_authentication_is_recorded()
    {
        CmpClientSession session = CmpClusterFixture.NewSession(secret: "wrong-secret");
        Exchange refused = await cluster.SendAsync(Aliases.Pbe, session,
            session.BuildEnrollment(initial: true, new X509Name($"CN=intruder-{Guid.NewGuid():N}"), _key));
        ProtocolAssert.Rejected(refused.View, PkiFailureInfo.BadMessageCheck);
        string transaction = GrainKeys.Transaction(Aliases.Pbe, session.TransactionId);
        Assert.Contains(cluster.AuditStore.Records, r => r.Type == AuditEventType.AuthenticationFailed && r.Target == transaction);
    }
}
