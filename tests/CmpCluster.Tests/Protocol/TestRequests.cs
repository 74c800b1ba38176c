using System.Security.Cryptography;
using CmpCluster.Protocol.Client;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Cmp;
using Org.BouncyCastle.Asn1.X509;

namespace CmpCluster.Tests.Protocol;

/// <summary>Real requests for unit tests, made by the project's own CMP client.</summary>
internal static class TestRequests
{
    public const string Secret = "s3cret";

    private static readonly Lazy<ECDsa> DeviceKey = new(() => ECDsa.Create(ECCurve.NamedCurves.nistP256));

    public static CmpClientSession Session() => new(Secret, "ra-test");

    public static byte[] Ir(CmpClientSession session, RequestOverrides? overrides = null) =>
        session.BuildEnrollment(initial: true, new X509Name("CN=unit-device,O=Test"), DeviceKey.Value, overrides: overrides);

    public static byte[] Ir(RequestOverrides? overrides = null) => Ir(Session(), overrides);

    /// <summary>A header with the fields every request needs, for messages built by hand.</summary>
    public static PkiHeaderBuilder Header() =>
        new PkiHeaderBuilder(2, new GeneralName(new X509Name("CN=cmp-client")), new GeneralName(X509Name.GetInstance(new DerSequence())))
            .SetTransactionID(RandomNumberGenerator.GetBytes(16))
            .SetSenderNonce(RandomNumberGenerator.GetBytes(16));

    /// <summary>A body that any PKIMessage can carry: genm with one InfoTypeAndValue.</summary>
    public static PkiBody GenmBody() =>
        new(PkiBody.TYPE_GEN_MSG, new GenMsgContent(new InfoTypeAndValue(CmpObjectIdentifiers.id_it_caCerts)));
}
