using CmpCluster.Contracts;
using CmpCluster.Protocol.Client;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Cmp;
using Org.BouncyCastle.Asn1.Crmf;
using Org.BouncyCastle.Asn1.Sec;
using Org.BouncyCastle.Asn1.X509;
using Xunit;
using PkiFailureInfo = CmpCluster.Contracts.PkiFailureInfo;
using static CmpCluster.Tests.Grains.LifecycleDevices;

namespace CmpCluster.Tests.Grains;

/// <summary>genm support messages, RFC 9483 §4.3: each infoType answered in a protected genp; the transaction closes.</summary>
[Collection(CmpClusterCollection.Name)]
public sealed class GenmTests(CmpClusterFixture cluster)
{
    private async Task<(CmpResponseView View, CmpClientSession Session)> AskAsync(params InfoTypeAndValue[] requests)
    {
        CmpClientSession session = CmpClusterFixture.NewSession();
        Exchange genp = await cluster.SendAsync(Aliases.Pbe, session, session.BuildGeneralMessage(requests));
        Assert.Equal(PkiBodyType.Genp, genp.View.BodyType);
        ProtocolAssert.AnswersLastRequest(genp.View, session);
        Assert.True(session.VerifyMac(genp.Response));
        return (genp.View, session);
    }

    private static InfoTypeAndValue Single(CmpResponseView view, DerObjectIdentifier type)
    {
        InfoTypeAndValue answer = Assert.Single(view.GeneralInfo);
        Assert.Equal(type, answer.InfoType);
        return answer;
    }

    [Fact]
    public async Task CaCerts_returns_the_issuing_CA_and_the_root_and_closes_the_transaction()
    {
        (CmpResponseView view, CmpClientSession session) = await AskAsync(new InfoTypeAndValue(CmpObjectIdentifiers.id_it_caCerts));

        InfoTypeAndValue answer = Single(view, CmpObjectIdentifiers.id_it_caCerts);
        byte[][] certificates = Asn1Sequence.GetInstance(answer.InfoValue).Cast<Asn1Encodable>()
            .Select(c => CmpCertificate.GetInstance(c).X509v3PKCert.GetEncoded(Asn1Encodable.Der)).ToArray();
        Assert.Equal([cluster.Ca.Ca.CertificateDer, cluster.Ca.Root.GetEncoded(Asn1Encodable.Der)], certificates);
        Assert.Equal(TransactionPhase.Closed, (await cluster.SnapshotAsync(Aliases.Pbe, session)).Phase);
    }

    [Fact]
    public async Task RootCaCert_of_the_current_root_gets_the_configured_rollover()
    {
        (CmpResponseView view, _) = await AskAsync(new InfoTypeAndValue(CmpObjectIdentifiers.id_it_rootCaCert, new CmpCertificate(cluster.Ca.Root)));

        var update = RootCaKeyUpdateContent.GetInstance(Single(view, CmpObjectIdentifiers.id_it_rootCaKeyUpdate).InfoValue);
        Assert.Equal(RootRollover.NewWithNew, update.NewWithNew.GetEncoded(Asn1Encodable.Der));
        Assert.Equal(RootRollover.NewWithOld, update.NewWithOld.GetEncoded(Asn1Encodable.Der));
        Assert.Equal(RootRollover.OldWithNew, update.OldWithNew.GetEncoded(Asn1Encodable.Der));
    }

    [Fact]
    public async Task RootCaCert_that_is_already_the_new_root_gets_no_update()
    {
        var newRoot = X509CertificateStructure.GetInstance(RootRollover.NewWithNew);

        (CmpResponseView view, _) = await AskAsync(new InfoTypeAndValue(CmpObjectIdentifiers.id_it_rootCaCert, new CmpCertificate(newRoot)));

        Assert.Null(Single(view, CmpObjectIdentifiers.id_it_rootCaKeyUpdate).InfoValue);
    }

    [Fact]
    public async Task CertReqTemplate_describes_the_profile_and_the_key_types()
    {
        (CmpResponseView view, _) = await AskAsync(new InfoTypeAndValue(CmpObjectIdentifiers.id_it_certReqTemplate));

        var content = CertReqTemplateContent.GetInstance(Single(view, CmpObjectIdentifiers.id_it_certReqTemplate).InfoValue);
        X509Extensions extensions = content.CertTemplate.Extensions;
        Assert.Equal(KeyUsage.DigitalSignature | KeyUsage.KeyAgreement,
            KeyUsage.GetInstance(extensions.GetExtension(X509Extensions.KeyUsage).GetParsedValue()).IntValue);
        IList<DerObjectIdentifier> purposes = ExtendedKeyUsage.GetInstance(extensions.GetExtension(X509Extensions.ExtendedKeyUsage).GetParsedValue()).GetAllUsages();
        Assert.Equal([KeyPurposeID.id_kp_clientAuth.Id, KeyPurposeID.id_kp_serverAuth.Id], purposes.Select(p => p.Id));
        AttributeTypeAndValue[] keySpec = content.KeySpecControls.ToAttributeTypeAndValueArray();
        Assert.Contains(keySpec, k => k.Type.Id == "1.3.6.1.5.5.7.5.1.11"
            && AlgorithmIdentifier.GetInstance(k.Value).Parameters.Equals(SecObjectIdentifiers.SecP256r1));
        Assert.Null(content.CertTemplate.Subject);
    }

    [Fact]
    public async Task CrlStatusList_naming_the_CA_gets_the_current_CRL_and_nothing_when_it_is_current()
    {
        var byIssuer = new CrlSource(null, new GeneralNames(new GeneralName(cluster.Ca.Ca.Certificate.Subject)));
        CrlInfo current = await cluster.Internal.GetGrain<ICertificateAuthorityGrain>(GrainKeys.CertificateAuthority("issuing")).GetCrlAsync();

        (CmpResponseView view, _) = await AskAsync(new InfoTypeAndValue(CmpObjectIdentifiers.id_it_crlStatusList, new DerSequence(new CrlStatus(byIssuer, null))));

        Asn1Encodable crl = Assert.Single(Asn1Sequence.GetInstance(Single(view, CmpObjectIdentifiers.id_it_crls).InfoValue).ToArray());
        var list = CertificateList.GetInstance(crl);
        Assert.True(list.Issuer.Equivalent(cluster.Ca.Ca.Certificate.Subject));
        Assert.True(list.ThisUpdate.ToDateTime() >= current.ThisUpdate.UtcDateTime.AddSeconds(-1));

        var upToDate = new CrlStatus(byIssuer, list.ThisUpdate);
        (CmpResponseView again, _) = await AskAsync(new InfoTypeAndValue(CmpObjectIdentifiers.id_it_crlStatusList, new DerSequence(upToDate)));
        Assert.Null(Single(again, CmpObjectIdentifiers.id_it_crls).InfoValue);
    }

    [Fact]
    public async Task CrlStatusList_for_another_CA_gets_no_CRL()
    {
        var other = new CrlSource(null, new GeneralNames(new GeneralName(new X509Name("CN=Somebody Else's CA"))));

        (CmpResponseView view, _) = await AskAsync(new InfoTypeAndValue(CmpObjectIdentifiers.id_it_crlStatusList, new DerSequence(new CrlStatus(other, null))));

        Assert.Null(Single(view, CmpObjectIdentifiers.id_it_crls).InfoValue);
    }

    [Fact]
    public async Task An_unknown_infoType_gets_an_empty_genp()
    {
        (CmpResponseView view, _) = await AskAsync(new InfoTypeAndValue(new DerObjectIdentifier("1.3.6.1.4.1.99999.1")));

        Assert.Empty(view.GeneralInfo);
    }

    [Fact]
    public async Task A_wrong_secret_is_badMessageCheck()
    {
        CmpClientSession session = CmpClusterFixture.NewSession("wrong");

        Exchange error = await cluster.SendAsync(Aliases.Pbe, session, session.BuildGeneralMessage(new InfoTypeAndValue(CmpObjectIdentifiers.id_it_caCerts)));

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.BadMessageCheck);
    }

    [Fact]
    public async Task In_client_mode_an_end_entity_asks_with_its_certificate()
    {
        Device device = await EnrolledAsync(cluster);
        CmpClientSession session = device.Signer();

        Exchange genp = await cluster.SendAsync(Aliases.ClientByCertificate, session, session.BuildGeneralMessage(new InfoTypeAndValue(CmpObjectIdentifiers.id_it_caCerts)));

        Assert.Equal(PkiBodyType.Genp, genp.View.BodyType);
        Assert.True(genp.View.VerifySignature(cluster.Ca.CmpSigner.CertificateDer));
        Single(genp.View, CmpObjectIdentifiers.id_it_caCerts);
    }
}
