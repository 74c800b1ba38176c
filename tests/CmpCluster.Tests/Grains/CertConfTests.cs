using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Protocol.Client;
using Org.BouncyCastle.Asn1.Nist;
using Org.BouncyCastle.Asn1.X509;
using Xunit;
using PkiBodyType = CmpCluster.Contracts.PkiBodyType;
using PkiFailureInfo = CmpCluster.Contracts.PkiFailureInfo;

namespace CmpCluster.Tests.Grains;

/// <summary>certConf → pkiConf, RFC 9810 §5.3.18 and RFC 9483 §4.1.1: confirmed, rejected, wrong hash, wrong nonce.</summary>
[Collection(CmpClusterCollection.Name)]
public sealed class CertConfTests(CmpClusterFixture cluster) : IDisposable
{
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly CmpClientSession _session = CmpClusterFixture.NewSession();

    public void Dispose() => _key.Dispose();

    private async Task<Exchange> EnrollAsync()
    {
        Exchange ip = await cluster.SendAsync(Aliases.Pbe, _session,
            _session.BuildEnrollment(initial: true, new X509Name($"CN=certconf-{Guid.NewGuid():N}"), _key));
        ProtocolAssert.Granted(ip.View, PkiBodyType.Ip);
        return ip;
    }

    [Fact]
    public async Task CertConf_with_the_right_hash_gets_pkiConf_and_confirms_the_certificate()
    {
        Exchange ip = await EnrollAsync();

        Exchange conf = await cluster.SendAsync(Aliases.Pbe, _session, _session.BuildCertConf(ip.View.CertificateDer!));

        Assert.Equal(PkiBodyType.PkiConf, conf.View.BodyType);
        ProtocolAssert.AnswersLastRequest(conf.View, _session);
        Assert.True(_session.VerifyMac(conf.Response));
        Assert.Equal(CertificateStatus.Confirmed, (await cluster.IssuedCertificateAsync(Aliases.Pbe, _session)).Status);
        TransactionSnapshot snapshot = await cluster.SnapshotAsync(Aliases.Pbe, _session);
        Assert.Equal(TransactionPhase.Closed, snapshot.Phase);
        Assert.Equal(TransactionOutcome.Confirmed, snapshot.Outcome);
        Assert.Null(snapshot.ConfirmDeadline);
    }

    [Fact]
    public async Task CertConf_with_a_wrong_hash_is_badCertId_and_revokes_the_certificate()
    {
        Exchange ip = await EnrollAsync();

        Exchange conf = await cluster.SendAsync(Aliases.Pbe, _session,
            _session.BuildCertConf(ip.View.CertificateDer!, certHash: new byte[32]));

        ProtocolAssert.Rejected(conf.View, PkiFailureInfo.BadCertId);
        ProtocolAssert.AnswersLastRequest(conf.View, _session);
        Assert.True(_session.VerifyMac(conf.Response));
        CertificateRecord record = await cluster.IssuedCertificateAsync(Aliases.Pbe, _session);
        Assert.Equal(CertificateStatus.Revoked, record.Status);
        Assert.Equal(RevocationReason.CessationOfOperation, record.RevocationReason);
        TransactionSnapshot snapshot = await cluster.SnapshotAsync(Aliases.Pbe, _session);
        Assert.Equal(TransactionPhase.Closed, snapshot.Phase);
        Assert.Equal(TransactionOutcome.ConfirmationFailed, snapshot.Outcome);
    }

    [Fact]
    public async Task CertConf_rejecting_the_certificate_gets_pkiConf_and_revokes_it()
    {
        Exchange ip = await EnrollAsync();

        Exchange conf = await cluster.SendAsync(Aliases.Pbe, _session, _session.BuildCertConf(ip.View.CertificateDer!, accept: false));

        // RFC 9810 §5.3.18: a rejection is a valid confirmation message; the server answers pkiConf.
        Assert.Equal(PkiBodyType.PkiConf, conf.View.BodyType);
        ProtocolAssert.AnswersLastRequest(conf.View, _session);
        CertificateRecord record = await cluster.IssuedCertificateAsync(Aliases.Pbe, _session);
        Assert.Equal(CertificateStatus.Revoked, record.Status);
        Assert.Equal(RevocationReason.CessationOfOperation, record.RevocationReason);
        Assert.Equal(TransactionPhase.Closed, (await cluster.SnapshotAsync(Aliases.Pbe, _session)).Phase);
    }

    [Fact]
    public async Task CertConf_naming_another_certReqId_is_badCertId_and_revokes_the_certificate()
    {
        Exchange ip = await EnrollAsync();

        Exchange conf = await cluster.SendAsync(Aliases.Pbe, _session, _session.BuildCertConf(ip.View.CertificateDer!, certReqId: 7));

        ProtocolAssert.Rejected(conf.View, PkiFailureInfo.BadCertId);
        Assert.Equal(CertificateStatus.Revoked, (await cluster.IssuedCertificateAsync(Aliases.Pbe, _session)).Status);
    }

    [Fact]
    public async Task CertConf_with_a_wrong_recipNonce_is_badRecipientNonce_and_leaves_the_transaction_untouched()
    {
        Exchange ip = await EnrollAsync();

        Exchange conf = await cluster.SendAsync(Aliases.Pbe, _session, _session.BuildCertConf(ip.View.CertificateDer!,
            overrides: new RequestOverrides { RecipNonce = RandomNumberGenerator.GetBytes(16) }));

        ProtocolAssert.Rejected(conf.View, PkiFailureInfo.BadRecipientNonce);
        ProtocolAssert.AnswersLastRequest(conf.View, _session);
        Assert.Equal(CertificateStatus.AwaitingConfirmation, (await cluster.IssuedCertificateAsync(Aliases.Pbe, _session)).Status);
        Assert.Equal(TransactionPhase.AwaitingConfirmation, (await cluster.SnapshotAsync(Aliases.Pbe, _session)).Phase);

        // The transaction still expects the ip's senderNonce: the real certConf goes through.
        Exchange retry = await cluster.SendAsync(Aliases.Pbe, _session, _session.BuildCertConf(ip.View.CertificateDer!,
            overrides: new RequestOverrides { RecipNonce = ip.View.SenderNonce }));
        Assert.Equal(PkiBodyType.PkiConf, retry.View.BodyType);
        Assert.Equal(CertificateStatus.Confirmed, (await cluster.IssuedCertificateAsync(Aliases.Pbe, _session)).Status);
    }

    [Fact]
    public async Task CertConf_without_recipNonce_is_badRecipientNonce()
    {
        Exchange ip = await EnrollAsync();

        Exchange conf = await cluster.SendAsync(Aliases.Pbe, _session,
            _session.BuildCertConf(ip.View.CertificateDer!, overrides: new RequestOverrides()));

        ProtocolAssert.Rejected(conf.View, PkiFailureInfo.BadRecipientNonce);
        Assert.Equal(CertificateStatus.AwaitingConfirmation, (await cluster.IssuedCertificateAsync(Aliases.Pbe, _session)).Status);
    }

    [Fact]
    public async Task CertConf_with_a_wrong_secret_is_badMessageCheck_and_leaves_the_certificate_waiting()
    {
        Exchange ip = await EnrollAsync();
        var impostor = new CmpClientSession("not-the-secret", "ra-test") { TransactionId = _session.TransactionId };

        Exchange conf = await cluster.SendAsync(Aliases.Pbe, impostor, impostor.BuildCertConf(ip.View.CertificateDer!,
            overrides: new RequestOverrides { RecipNonce = ip.View.SenderNonce }));

        ProtocolAssert.Rejected(conf.View, PkiFailureInfo.BadMessageCheck);
        // Who failed to authenticate cannot be answered with the MAC: the error is signed by the CMP signer.
        Assert.True(conf.View.VerifySignature(cluster.Ca.CmpSigner.CertificateDer));
        Assert.Equal(CertificateStatus.AwaitingConfirmation, (await cluster.IssuedCertificateAsync(Aliases.Pbe, _session)).Status);
        Exchange real = await cluster.SendAsync(Aliases.Pbe, _session, _session.BuildCertConf(ip.View.CertificateDer!,
            overrides: new RequestOverrides { RecipNonce = ip.View.SenderNonce }));
        Assert.Equal(PkiBodyType.PkiConf, real.View.BodyType);
    }

    [Fact]
    public async Task CertConf_with_another_senderKID_is_wrongIntegrity_and_leaves_the_certificate_waiting()
    {
        Exchange ip = await EnrollAsync();
        var other = new CmpClientSession(Aliases.Secret, "another-ra") { TransactionId = _session.TransactionId };

        Exchange conf = await cluster.SendAsync(Aliases.Pbe, other, other.BuildCertConf(ip.View.CertificateDer!,
            overrides: new RequestOverrides { RecipNonce = ip.View.SenderNonce }));

        // RFC 9810 §5.1.3.4: a transaction keeps the protection (and the key) it started with.
        ProtocolAssert.Rejected(conf.View, PkiFailureInfo.WrongIntegrity);
        ProtocolAssert.AnswersLastRequest(conf.View, other);
        Assert.Equal(CertificateStatus.AwaitingConfirmation, (await cluster.IssuedCertificateAsync(Aliases.Pbe, _session)).Status);
        Exchange real = await cluster.SendAsync(Aliases.Pbe, _session, _session.BuildCertConf(ip.View.CertificateDer!,
            overrides: new RequestOverrides { RecipNonce = ip.View.SenderNonce }));
        Assert.Equal(PkiBodyType.PkiConf, real.View.BodyType);
    }

    [Fact]
    public async Task CertConf_with_hashAlg_is_checked_with_that_hash()
    {
        Exchange ip = await EnrollAsync();
        RawRequest request = RawRequests.Protect(_session.TransactionId,
            RawRequests.CertConf(RawRequests.Accept(ip.View.CertificateDer!, hashAlg: NistObjectIdentifiers.IdSha384)), recipNonce: ip.View.SenderNonce);

        CmpResponseView view = CmpResponseView.Parse(
            await cluster.Transaction(Aliases.Pbe, _session).HandleAsync(new CmpRequest(Aliases.Pbe, request.Der)));

        Assert.Equal(PkiBodyType.PkiConf, view.BodyType);
        ProtocolAssert.Answers(view, _session.TransactionId, request.SenderNonce);
        Assert.Equal(CertificateStatus.Confirmed, (await cluster.IssuedCertificateAsync(Aliases.Pbe, _session)).Status);
    }

    [Fact]
    public async Task CertConf_whose_hash_does_not_match_its_hashAlg_is_badCertId()
    {
        Exchange ip = await EnrollAsync();
        byte[] sha256 = SHA256.HashData(ip.View.CertificateDer!);
        RawRequest request = RawRequests.Protect(_session.TransactionId, RawRequests.CertConf(
            RawRequests.Accept(ip.View.CertificateDer!, hashAlg: NistObjectIdentifiers.IdSha384, certHash: sha256)), recipNonce: ip.View.SenderNonce);

        CmpResponseView view = CmpResponseView.Parse(
            await cluster.Transaction(Aliases.Pbe, _session).HandleAsync(new CmpRequest(Aliases.Pbe, request.Der)));

        ProtocolAssert.Rejected(view, PkiFailureInfo.BadCertId);
        Assert.Equal(CertificateStatus.Revoked, (await cluster.IssuedCertificateAsync(Aliases.Pbe, _session)).Status);
    }

    [Fact]
    public async Task CertConf_without_an_open_enrollment_is_badRequest()
    {
        byte[] someCertificate = cluster.Ca.CmpSigner.CertificateDer;

        Exchange conf = await cluster.SendAsync(Aliases.Pbe, _session, _session.BuildCertConf(someCertificate));

        ProtocolAssert.Rejected(conf.View, PkiFailureInfo.BadRequest);
        ProtocolAssert.AnswersLastRequest(conf.View, _session);
        Assert.Equal(TransactionPhase.New, (await cluster.SnapshotAsync(Aliases.Pbe, _session)).Phase);
    }

    [Fact]
    public async Task CertConf_answered_with_an_error_leaves_no_certificate_confirmed()
    {
        Exchange ip = await EnrollAsync();
        RawRequest request = RawRequests.Protect(_session.TransactionId,
            RawRequests.CertConf(RawRequests.Accept(ip.View.CertificateDer!, 0), RawRequests.Accept(ip.View.CertificateDer!, 99)), recipNonce: ip.View.SenderNonce);

        byte[] response = await cluster.Transaction(Aliases.Pbe, _session).HandleAsync(new CmpRequest(Aliases.Pbe, request.Der));

        CmpResponseView view = CmpResponseView.Parse(response);
        ProtocolAssert.Answers(view, _session.TransactionId, request.SenderNonce);
        CertificateStatus status = (await cluster.IssuedCertificateAsync(Aliases.Pbe, _session)).Status;
        // Either answer is defensible; a mix of "error" to the client and "Confirmed" at the CA is not.
        if (view.BodyType == PkiBodyType.Error)
        {
            Assert.Equal(CertificateStatus.Revoked, status);
        }
        else
        {
            Assert.Equal(PkiBodyType.PkiConf, view.BodyType);
            Assert.Equal(CertificateStatus.Confirmed, status);
        }
    }
}
