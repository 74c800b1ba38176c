using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using CmpCluster.Protocol.Client;
using CmpCluster.Protocol.Configuration;
using CmpCluster.Protocol.Messages;
using CmpCluster.Protocol.Protection;
using CmpCluster.Protocol.Validation;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Cmp;
using Org.BouncyCastle.Asn1.Crmf;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Math;

namespace CmpCluster.Benchmarks;

/// <summary>
/// What one P-256 enrollment costs the server, step by step: decode the ir, derive and verify its PBM (500 iterations,
/// as OpenSSL sends), verify the signature POP, sign the certificate, protect the response (MAC with the derived key,
/// or signature by the CMP signer). Inputs are built once; each benchmark is one step on a warm process.
/// </summary>
[ShortRunJob]
[MemoryDiagnoser]
public class ServerStepBenchmarks
{
    private static readonly byte[] Secret = "changeit"u8.ToArray();
    private readonly CmpLimits _limits = new();
    private byte[] _ir = [];
    private byte[] _irProtectedPart = [];
    private byte[] _irProtection = [];
    private AlgorithmIdentifier _pbm = null!;
    private CertReqMsg _certReqMsg = null!;
    private ECDsa _caKey = null!;
    private KeySigner _caSigner = null!;
    private byte[] _tbs = [];
    private TbsCertificateStructure _tbsStructure = null!;
    private PasswordBasedMac _derivedMac = null!;
    private ResponseProtector _macProtector = null!;
    private ResponseProtector _signatureProtector = null!;
    private ResponseContext _context = null!;
    private PkiBody _body = null!;

    [GlobalSetup]
    public void Setup()
    {
        using ECDsa deviceKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var session = new CmpClientSession("changeit", "ra", pbmIterations: 500);
        _ir = session.BuildEnrollment(true, new X509Name("CN=device-1,O=Bench"), deviceKey);
        DecodedRequest request = DecodedRequest.Decode(_ir, _limits);
        _irProtectedPart = request.ProtectedPart();
        _irProtection = request.Message.Protection.GetOctets();
        _pbm = request.ProtectionAlg!;
        _certReqMsg = ((CertReqMessages)request.Message.Body.Content).ToCertReqMsgArray()[0];
        _derivedMac = PasswordBasedMac.Derive(_pbm, Secret, _limits);

        _caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        _caSigner = new KeySigner(_caKey);
        var issuer = new X509Name("CN=Bench Issuing CA");
        var tbs = new V3TbsCertificateGenerator();
        tbs.SetSerialNumber(new DerInteger(new BigInteger(1, RandomNumberGenerator.GetBytes(16))));
        tbs.SetIssuer(issuer);
        tbs.SetSubject(new X509Name("CN=device-1,O=Bench"));
        tbs.SetStartDate(new Time(DateTime.UtcNow));
        tbs.SetEndDate(new Time(DateTime.UtcNow.AddDays(365)));
        tbs.SetSubjectPublicKeyInfo(SubjectPublicKeyInfo.GetInstance(deviceKey.ExportSubjectPublicKeyInfo()));
        tbs.SetSignature(_caSigner.Algorithm);
        _tbsStructure = tbs.GenerateTbsCertificate();
        _tbs = _tbsStructure.GetEncoded(Asn1Encodable.Der);

        var certificate = new X509CertificateStructure(_tbsStructure, _caSigner.Algorithm, new DerBitString(_caSigner.Sign(_tbs)));
        _context = ResponseContext.For(request);
        var response = new CertResponse(DerInteger.ValueOf(0), new PkiStatusInfo(0), new CertifiedKeyPair(new CertOrEncCert(new CmpCertificate(certificate))), null);
        _body = new PkiBody(PkiBody.TYPE_INIT_REP, new CertRepMessage(null, [response]));
        var sender = new GeneralName(issuer);
        _macProtector = new MacResponseProtector(_derivedMac, sender, "ra"u8.ToArray(), []);
        _signatureProtector = new SignatureResponseProtector(_caSigner.Algorithm, certificate, null, [certificate],
            data => Task.FromResult(_caSigner.Sign(data)));
    }

    [GlobalCleanup]
    public void Cleanup() => _caKey.Dispose();

    [Benchmark(Description = "decode ir (DecodedRequest.Decode, default CmpLimits)")]
    public DecodedRequest DecodeIr() => DecodedRequest.Decode(_ir, _limits);

    [Benchmark(Description = "PBM derive + verify, 500 iterations")]
    public bool PbmDeriveAndVerify() => PasswordBasedMac.Derive(_pbm, Secret, _limits).Verify(_irProtectedPart, _irProtection);

    [Benchmark(Description = "signature POP verify (PopVerifier, P-256)")]
    public void PopVerify() => PopVerifier.Verify(_certReqMsg, allowRaVerified: false);

    [Benchmark(Description = "sign certificate TBS (KeySigner, P-256)")]
    public byte[] SignCertificate() =>
        new X509CertificateStructure(_tbsStructure, _caSigner.Algorithm, new DerBitString(_caSigner.Sign(_tbs))).GetEncoded(Asn1Encodable.Der);

    [Benchmark(Description = "protect ip, MAC with the derived PBM key")]
    public async Task<BuiltResponse> ProtectResponseMac() => await CmpResponseBuilder.BuildAsync(_context, _body, _macProtector, DateTimeOffset.UtcNow);

    [Benchmark(Description = "protect ip, signature by the CMP signer (P-256)")]
    public async Task<BuiltResponse> ProtectResponseSignature() => await CmpResponseBuilder.BuildAsync(_context, _body, _signatureProtector, DateTimeOffset.UtcNow);
}
