using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Protocol.Client;
using Org.BouncyCastle.Asn1.X509;
using Xunit;
using BigInteger = Org.BouncyCastle.Math.BigInteger;
using PkiBodyType = CmpCluster.Contracts.PkiBodyType;
using PkiFailureInfo = CmpCluster.Contracts.PkiFailureInfo;

namespace CmpCluster.Tests.Grains;

/// <summary>
/// Proof of possession (RFC 4211 §4) and template policy (RFC 9483 §4.1.1): a refused request is answered with the
/// rule's failInfo under the request's MAC, and no certificate is issued for it.
/// </summary>
[Collection(CmpClusterCollection.Name)]
public sealed class PopTests(CmpClusterFixture cluster) : IDisposable
{
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly CmpClientSession _session = CmpClusterFixture.NewSession();

    public void Dispose() => _key.Dispose();

    private async Task<Exchange> EnrollAsync(string alias, PopKind pop, X509Name? issuer = null) =>
        await cluster.SendAsync(alias, _session, _session.BuildEnrollment(
            initial: true, new X509Name($"CN=pop-{Guid.NewGuid():N}"), _key, pop: pop, issuer: issuer));

    private async Task AssertRefusedWithoutIssuingAsync(string alias, Exchange exchange, PkiFailureInfo expected)
    {
        ProtocolAssert.Rejected(exchange.View, expected);
        ProtocolAssert.AnswersLastRequest(exchange.View, _session);
        // Authenticated, so the error is protected like any answer on this alias.
        Assert.True(_session.VerifyMac(exchange.Response));
        Assert.Empty((await cluster.SnapshotAsync(alias, _session)).CertificateKeys);
    }

    [Fact]
    public async Task Signature_pop_made_with_another_key_is_badPOP()
    {
        Exchange error = await EnrollAsync(Aliases.Pbe, PopKind.WrongKeySignature);

        await AssertRefusedWithoutIssuingAsync(Aliases.Pbe, error, PkiFailureInfo.BadPop);
    }

    [Fact]
    public async Task Missing_pop_is_badPOP()
    {
        Exchange error = await EnrollAsync(Aliases.Pbe, PopKind.None);

        await AssertRefusedWithoutIssuingAsync(Aliases.Pbe, error, PkiFailureInfo.BadPop);
    }

    [Fact]
    public async Task RaVerified_pop_is_badPOP_where_the_alias_does_not_allow_it()
    {
        Exchange error = await EnrollAsync(Aliases.Pbe, PopKind.RaVerified);

        await AssertRefusedWithoutIssuingAsync(Aliases.Pbe, error, PkiFailureInfo.BadPop);
    }

    [Fact]
    public async Task RaVerified_pop_is_accepted_where_the_alias_allows_it()
    {
        Exchange ip = await EnrollAsync(Aliases.RaVerified, PopKind.RaVerified);

        byte[] der = ProtocolAssert.Granted(ip.View, PkiBodyType.Ip);
        ProtocolAssert.AnswersLastRequest(ip.View, _session);
        ProtocolAssert.IssuedBy(der, cluster.Ca);
    }

    [Fact]
    public async Task Signature_pop_is_accepted_where_raVerified_is_allowed_too()
    {
        Exchange ip = await EnrollAsync(Aliases.RaVerified, PopKind.Signature);

        ProtocolAssert.Granted(ip.View, PkiBodyType.Ip);
    }

    [Fact]
    public async Task Template_naming_another_issuer_is_wrongAuthority()
    {
        Exchange error = await EnrollAsync(Aliases.Pbe, PopKind.Signature, issuer: new X509Name("CN=Other CA"));

        await AssertRefusedWithoutIssuingAsync(Aliases.Pbe, error, PkiFailureInfo.WrongAuthority);
    }

    [Fact]
    public async Task Template_naming_this_ca_as_issuer_is_accepted()
    {
        Exchange ip = await EnrollAsync(Aliases.Pbe, PopKind.Signature, issuer: cluster.Ca.Ca.Certificate.Subject);

        ProtocolAssert.Granted(ip.View, PkiBodyType.Ip);
    }

    [Fact]
    public async Task A_refused_enrollment_issues_nothing()
    {
        string subject = $"CN=refused-{Guid.NewGuid():N}";
        Exchange error = await cluster.SendAsync(Aliases.Pbe, _session,
            _session.BuildEnrollment(initial: true, new X509Name(subject), _key, pop: PopKind.WrongKeySignature));

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.BadPop);
        Assert.DoesNotContain(cluster.Audit.Events, e => e.Contains(subject, StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_ir_with_an_out_of_range_certReqId_is_refused_before_anything_is_signed()
    {
        string subject = $"CN=huge-certreqid-{Guid.NewGuid():N}";
        RawRequest request = RawRequests.Protect(_session.TransactionId,
            RawRequests.Ir(_key, new X509Name(subject), BigInteger.One.ShiftLeft(70)));

        byte[] response = await cluster.Transaction(Aliases.Pbe, _session).HandleAsync(new CmpRequest(Aliases.Pbe, request.Der));

        Assert.DoesNotContain(cluster.Audit.Events, e => e.Contains(subject, StringComparison.Ordinal));
        CmpResponseView view = CmpResponseView.Parse(response);
        ProtocolAssert.Answers(view, _session.TransactionId, request.SenderNonce);
        ProtocolAssert.Rejected(view, PkiFailureInfo.BadRequest);
    }
}
