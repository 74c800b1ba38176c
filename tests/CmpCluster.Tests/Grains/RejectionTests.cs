using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Protocol.Client;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Cmp;
using Org.BouncyCastle.Asn1.X509;
using Xunit;
using BigInteger = Org.BouncyCastle.Math.BigInteger;
using PkiFailureInfo = CmpCluster.Contracts.PkiFailureInfo;

namespace CmpCluster.Tests.Grains;

/// <summary>
/// Messages no transaction can own (no usable transactionID) still get a signed CMP error from the silo, never an
/// unprotected one, echoing what the header allows.
/// </summary>
[Collection(CmpClusterCollection.Name)]
public sealed class RejectionTests(CmpClusterFixture cluster)
{
    private ICmpRejectionGrain Rejection => cluster.Client.GetGrain<ICmpRejectionGrain>(Aliases.Pbe);

    private static (byte[] Der, byte[] SenderNonce) WithoutTransactionId(Func<PkiHeader, PkiHeader>? edit = null)
    {
        byte[] senderNonce = RandomNumberGenerator.GetBytes(16);
        PkiHeader header = new PkiHeaderBuilder(2, new GeneralName(new X509Name("CN=cmp-client")), new GeneralName(new X509Name("CN=ca")))
            .SetSenderNonce(senderNonce)
            .SetProtectionAlg(CmpCluster.Protocol.Protection.PasswordBasedMac.NewAlgorithm())
            .SetMessageTime(new Asn1GeneralizedTime(DateTime.UtcNow))
            .Build();
        header = edit?.Invoke(header) ?? header;
        var body = new PkiBody(PkiBody.TYPE_GEN_MSG, new GenMsgContent(new InfoTypeAndValue(CmpObjectIdentifiers.id_it_caCerts)));
        return (new PkiMessage(header, body, new DerBitString(new byte[32])).GetEncoded(Asn1Encodable.Der), senderNonce);
    }

    [Fact]
    public async Task A_message_without_transactionID_gets_a_signed_badRequest_answering_its_nonce()
    {
        (byte[] der, byte[] senderNonce) = WithoutTransactionId();

        CmpResponseView view = CmpResponseView.Parse(await Rejection.RejectAsync(new CmpRequest(Aliases.Pbe, der)));

        ProtocolAssert.Rejected(view, PkiFailureInfo.BadRequest);
        Assert.Equal(senderNonce, view.RecipNonce);
        Assert.Null(view.TransactionId);
        Assert.True(view.VerifySignature(cluster.Ca.CmpSigner.CertificateDer));
    }

    [Fact]
    public async Task Bytes_that_are_not_a_PKIMessage_get_a_signed_badRequest()
    {
        CmpResponseView view = CmpResponseView.Parse(await Rejection.RejectAsync(new CmpRequest(Aliases.Pbe, [0x30, 0x03, 0x02, 0x01, 0x05])));

        ProtocolAssert.Rejected(view, PkiFailureInfo.BadRequest);
        Assert.True(view.VerifySignature(cluster.Ca.CmpSigner.CertificateDer));
    }

    [Fact]
    public async Task The_first_broken_header_rule_names_the_failure()
    {
        (byte[] der, _) = WithoutTransactionId(header => RawRequests.WithPvno(header, BigInteger.One));

        CmpResponseView view = CmpResponseView.Parse(await Rejection.RejectAsync(new CmpRequest(Aliases.Pbe, der)));

        ProtocolAssert.Rejected(view, PkiFailureInfo.UnsupportedVersion);
    }

    [Fact]
    public async Task A_pvno_beyond_int_range_is_answered_not_thrown()
    {
        (byte[] der, _) = WithoutTransactionId(header => RawRequests.WithPvno(header, BigInteger.One.ShiftLeft(40)));

        CmpResponseView view = CmpResponseView.Parse(await Rejection.RejectAsync(new CmpRequest(Aliases.Pbe, der)));

        ProtocolAssert.Rejected(view, PkiFailureInfo.UnsupportedVersion);
    }
}
