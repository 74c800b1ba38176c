using CmpCluster.Contracts;
using CmpCluster.Gateway;
using CmpCluster.Grains.Authentication;
using CmpCluster.Grains.EndEntities;
using CmpCluster.Grains.Handlers;
using CmpCluster.Grains.Pki;
using CmpCluster.Grains.Revocation;
using CmpCluster.Grains.Transactions;
using CmpCluster.Protocol;
using CmpCluster.Protocol.Messages;
using CmpCluster.Protocol.Transport;
using CmpCluster.Protocol.Validation;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Cmp;
using Org.BouncyCastle.Asn1.Crmf;
using Org.BouncyCastle.Asn1.Ocsp;
using Org.BouncyCastle.Asn1.X509;
using BigInteger = Org.BouncyCastle.Math.BigInteger;
using PkiBodyType = CmpCluster.Contracts.PkiBodyType;
using PkiFailureInfo = CmpCluster.Contracts.PkiFailureInfo;

namespace CmpCluster.Fuzz.Harness;

/// <summary>
/// A fuzz harness broke a rule that is not an exception of the product: more memory or work for one input than the
/// limits allow. Always a finding.
/// </summary>
public sealed class FuzzFindingException(string message) : Exception(message);

/// <summary>
/// The harness bodies, shared by the fuzzer (fuzz/CmpCluster.Fuzz) and the regression tests
/// (tests/CmpCluster.Tests/Fuzz). Each runs one untrusted input through the entry points the product calls on it and
/// catches only what the product deliberately turns into an answer:
/// <list type="bullet">
/// <item>gateway: <see cref="CmpDispatcher"/>'s HTTP 400 (returned, not thrown) and the TCP reader's faults;</item>
/// <item>grains: <see cref="CmpFailureException"/> (a CMP error message); OCSP: a null parse (malformedRequest);</item>
/// <item><see cref="GrainCallReached"/>: the input got as far as a call into the cluster.</item>
/// </list>
/// Any other exception propagates: the transaction grain would answer it with systemFailure and log an internal error
/// (grains/Transactions/CmpTransactionGrain.cs), the OCSP responder would fail the HTTP request.
/// </summary>
public static class FuzzTargets
{
    public const string RequestName = "request";
    public const string TcpName = "tcp";
    public const string OcspName = "ocsp";

    public static IReadOnlyList<string> Names { get; } = [RequestName, TcpName, OcspName];

    /// <summary>
    /// Allocation allowed for one request through every stage below. Generous: a 64 KiB request that is parsed a few
    /// times, verified and answered stays far below it; a length field or a loop that allocates by what the input
    /// claims instead of what it holds does not.
    /// </summary>
    public const long RequestAllocationBudget = 64L * 1024 * 1024;

    /// <summary>Fixed costs of one TCP frame read beyond its value (header, cancellation source, async state).</summary>
    public const long TcpReadOverhead = 16 * 1024;

    /// <summary>Most frames the TCP harness reads from one input (one connection).</summary>
    public const int MaxFramesPerConnection = 32;

    /// <summary>protocol/Client/CmpTcpTransport.cs MaxResponseBytes (its default).</summary>
    public const int ClientMaxResponseBytes = 4 * 1024 * 1024;

    private const string TransactionKey = "ra/00000000000000000000000000000000";

    public static Action<byte[]> ByName(string name) => name switch
    {
        RequestName => Request,
        TcpName => Tcp,
        OcspName => Ocsp,
        _ => throw new ArgumentException($"unknown harness '{name}' (request, tcp, ocsp)", nameof(name)),
    };

    // ---------------------------------------------------------------- request

    /// <summary>
    /// A CMP request body as the HTTP gateway receives it: size bound, <see cref="CmpDispatcher.DispatchAsync"/> (DER
    /// envelope, transactionID routing), then what the grain it routes to does: <see cref="DecodedRequest.Decode"/>,
    /// <see cref="HeaderValidator"/>, authentication (PBM parameters and MAC, signature and extraCerts, vendor chains,
    /// CRMF controls), the body handler (CRMF CertReqMessages, template and POP, certConf, rr, genm, pollReq, nested)
    /// and the response that echoes the header. Authentication runs, but its verdict does not stop the body stage (a
    /// fuzzer cannot forge a MAC, and the handlers parse the body either way).
    /// </summary>
    public static void Request(byte[] der)
    {
        FuzzEnvironment env = FuzzEnvironment.Instance;
        // CmpHttpEndpoints: a body over Cmp:Limits:MaxMessageBytes is 413 before it is read to the end.
        if (der.Length > env.Limits.MaxMessageBytes)
        {
            return;
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        GrainCallReached routed;
        try
        {
            DispatchResult result = env.Dispatcher.DispatchAsync(FuzzEnvironment.RaAliasName, der).GetAwaiter().GetResult();
            if (result.StatusCode == 400 && result.Body is null)
            {
                return;
            }
            throw new InvalidOperationException($"the dispatcher answered {result.StatusCode} without a grain call");
        }
        catch (GrainCallReached call)
        {
            routed = call;
        }
        if (routed.Grain == typeof(ICmpRejectionGrain))
        {
            Reject(der);
        }
        else if (routed.Grain == typeof(ICmpTransactionGrain))
        {
            Transaction(der, insideTrustedNested: false);
        }
        else
        {
            throw new InvalidOperationException($"the dispatcher called {routed.Grain.Name}");
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        if (allocated > RequestAllocationBudget)
        {
            throw new FuzzFindingException($"one {der.Length}-byte request allocated {allocated} bytes");
        }
    }

    /// <summary>grains/Transactions/CmpRejectionGrain.cs: decode, validate, answer with an error.</summary>
    private static void Reject(byte[] der)
    {
        FuzzEnvironment env = FuzzEnvironment.Instance;
        CmpFailure failure = new(PkiFailureInfo.BadRequest, "transactionID is missing");
        ResponseContext context = ResponseContext.Undecoded([]);
        try
        {
            DecodedRequest decoded = DecodedRequest.Decode(der, env.Limits);
            context = ResponseContext.For(decoded);
            HeaderValidator.Validate(decoded, env.Limits, DateTimeOffset.UtcNow);
        }
        catch (CmpFailureException e)
        {
            failure = e.Failure;
        }
        Respond(context, CmpResponseBuilder.Error(failure));
    }

    /// <summary>grains/Transactions/CmpTransactionGrain.cs HandleAsync for a new transaction, short of grain calls.</summary>
    private static void Transaction(byte[] der, bool insideTrustedNested)
    {
        FuzzEnvironment env = FuzzEnvironment.Instance;
        DecodedRequest decoded;
        try
        {
            decoded = DecodedRequest.Decode(der, env.Limits);
        }
        catch (CmpFailureException e)
        {
            Respond(ResponseContext.Undecoded(new byte[16]), CmpResponseBuilder.Error(e.Failure, "fuzz"));
            return;
        }
        ResponseContext context = ResponseContext.For(decoded);
        try
        {
            HeaderValidator.Validate(decoded, env.Limits, DateTimeOffset.UtcNow);
            // Each body type in the phase that admits it: certConf in a transaction awaiting it, pollReq in a waiting one,
            // their recipNonce the one the transaction expects; everything else opens a new transaction.
            TransactionPhase phase = FollowUpPhase(decoded.BodyType) ?? TransactionPhase.New;
            if (TransactionMachine.Admit(phase, decoded.BodyType, decoded.RecipNonce, decoded.RecipNonce) is { } refused)
            {
                throw new CmpFailureException(refused);
            }
        }
        catch (CmpFailureException e)
        {
            Respond(context, CmpResponseBuilder.Error(e.Failure, "fuzz"));
            return;
        }

        Authenticate(decoded, env.RaAlias, insideTrustedNested);
        Authenticate(decoded, env.ClientAlias, insideTrustedNested);

        PkiBody answer;
        try
        {
            answer = Body(decoded);
        }
        catch (CmpFailureException e)
        {
            answer = CmpResponseBuilder.Error(e.Failure, "fuzz");
        }
        catch (GrainCallReached)
        {
            answer = CmpResponseBuilder.PkiConf();
        }
        Respond(context, answer);
    }

    private static TransactionPhase? FollowUpPhase(PkiBodyType body) => body switch
    {
        PkiBodyType.CertConf => TransactionPhase.AwaitingConfirmation,
        PkiBodyType.PollReq => TransactionPhase.Waiting,
        _ => null,
    };

    /// <summary>grains/Authentication/RequestAuthenticator.cs: a request that opens a transaction, or a follow-up of one opened with PBM.</summary>
    private static void Authenticate(DecodedRequest decoded, Protocol.Configuration.CmpAliasOptions alias, bool insideTrustedNested)
    {
        FuzzEnvironment env = FuzzEnvironment.Instance;
        try
        {
            Authenticated authenticated = (FollowUpPhase(decoded.BodyType) is null
                ? env.Authenticator.AuthenticateAsync(decoded, alias, env.Limits, TransactionKey, insideTrustedNested)
                : env.Authenticator.AuthenticateFollowUpAsync(decoded, alias, env.Limits, TransactionKey, ProtectionKind.PasswordBasedMac,
                    alias.Mode == Protocol.Configuration.AliasMode.Client ? "fuzz" : null, insideTrustedNested))
                .GetAwaiter().GetResult();
            // A verified MAC protects the response with the request's parameters (grains/Transactions/ResponseProtectors.cs).
            if (authenticated.Mac is { } mac)
            {
                var protector = new MacResponseProtector(mac, new GeneralName(env.Ca.Ca.Certificate.Subject), authenticated.SenderKid, env.Ca.CaChain);
                CmpResponseBuilder.BuildAsync(ResponseContext.For(decoded), CmpResponseBuilder.PkiConf(), protector, DateTimeOffset.UtcNow)
                    .GetAwaiter().GetResult();
            }
        }
        catch (CmpFailureException)
        {
        }
        catch (GrainCallReached)
        {
        }
    }

    /// <summary>The body stage of grains/Transactions/CmpTransactionGrain.cs (DispatchAsync), as an RA that authenticated.</summary>
    private static PkiBody Body(DecodedRequest request)
    {
        FuzzEnvironment env = FuzzEnvironment.Instance;
        var authenticated = new Authenticated("ra:fuzz", ProtectionKind.PasswordBasedMac, request.SenderKid, null);
        switch (BodyDispatch.Route(request.BodyType))
        {
            case BodyRoute.Enrollment:
            {
                bool implicitConfirm = request.ImplicitConfirmRequested && env.RaAlias.AllowImplicitConfirm;
                string? raUsername = request.CertRequests is [{ CertReq.CertTemplate.Subject: { } subject }]
                    ? RaNames.Generate(env.RaAlias, subject)
                    : null;
                var enrollment = new EnrollmentRequest(
                    request.CertRequests, env.RaAlias, env.Ca, env.Profile, authenticated.Principal, TransactionKey, implicitConfirm,
                    Username: raUsername, ProfileName: "default") { RequestType = request.BodyType, Pkcs10 = request.Pkcs10 };
                PreparedEnrollment prepared = env.Enrollment.Prepare(enrollment);
                // grains/Transactions/CmpTransactionGrain.Polling.cs: a waiting request keeps its certReqId as a long.
                _ = prepared.Issuance.Subject.ToString();
                return Render(new Deferral(enrollment.ResponseType, prepared.CertReqId.LongValueExact, WaitReason.Capacity));
            }
            case BodyRoute.Confirmation:
            {
                PendingCertificate[] pending = [new(0, "issuing/1", env.Ca.CmpSigner.CertificateDer)];
                return Render(env.CertConf.HandleAsync(request.CertStatuses, pending).GetAwaiter().GetResult());
            }
            case BodyRoute.Revocation:
                return Render(env.Revocation.HandleAsync(request.Revocations, env.RaAlias, authenticated, TransactionKey).GetAwaiter().GetResult());
            case BodyRoute.General:
                return Render(env.Genm.HandleAsync(request.InfoRequests, env.RaAlias, env.Ca, "default").GetAwaiter().GetResult());
            case BodyRoute.Polling:
            {
                if (request.PollIds is not [var id] || !id.Equals(BigInteger.ValueOf(0)))
                {
                    throw new CmpFailureException(PkiFailureInfo.BadRequest, "pollReq must name the certReqId of the waiting request");
                }
                return Render(new Deferral(PkiBodyType.PollRep, 0, WaitReason.Capacity));
            }
            case BodyRoute.Nested:
                return Nested(request);
            case BodyRoute.NotSupportedYet:
                throw new CmpFailureException(PkiFailureInfo.BadRequest, $"{request.BodyType} is not supported yet");
            default:
                throw new CmpFailureException(PkiFailureInfo.BadRequest, $"{request.BodyType} is not a request");
        }
    }

    /// <summary>grains/Transactions/DecisionResponses.cs: the engine's one renderer of decisions.</summary>
    private static PkiBody Render(Decision decision) => DecisionResponses.Render(decision, "fuzz", TimeSpan.FromSeconds(2));

    /// <summary>grains/Transactions/CmpTransactionGrain.Nested.cs: each inner message goes to its own transaction or is rejected.</summary>
    private static PkiBody Nested(DecodedRequest request)
    {
        FuzzEnvironment env = FuzzEnvironment.Instance;
        PkiMessage[] inner = NestedContent.Inner(request, env.Limits);
        foreach (PkiMessage message in inner)
        {
            byte[] innerDer = message.GetEncoded(Asn1Encodable.Der);
            byte[]? transactionId = message.Header.TransactionID?.GetOctets();
            bool routable = transactionId is { Length: >= 16 and <= 64 }
                && message.Body.Type != PkiBody.TYPE_NESTED
                && !(request.TransactionId is { } outer && transactionId.AsSpan().SequenceEqual(outer));
            if (routable)
            {
                Transaction(innerDer, insideTrustedNested: true);
            }
            else
            {
                Reject(innerDer);
            }
        }
        return CmpResponseBuilder.PkiConf();
    }

    /// <summary>The response every path ends in: the request's header fields echoed, signed like the CMP signer would.</summary>
    private static void Respond(ResponseContext context, PkiBody body)
    {
        CertificateAuthorityKeys ca = FuzzEnvironment.Instance.Ca;
        // The signature itself is the signer grain's; a fixed value keeps the fuzzer on the request-derived fields.
        var protector = new SignatureResponseProtector(ca.CmpSigner.Signer.Algorithm, ca.CmpSigner.Certificate,
            ca.CmpSigner.SubjectKeyIdentifier, ca.SignerChain, _ => Task.FromResult(new byte[64]));
        BuiltResponse response = CmpResponseBuilder.BuildAsync(context, body, protector, DateTimeOffset.UtcNow).GetAwaiter().GetResult();
        _ = response.Der.Length;
    }

    // ---------------------------------------------------------------- tcp

    /// <summary>
    /// One TCP connection's bytes through <see cref="CmpTcpFrameReader"/> as gateway/Tcp/CmpTcpListener.cs reads them:
    /// frames until a close flag, a fault or the end of the input; each request frame goes to the dispatcher and its
    /// answer is framed. The first input byte is not stream data: bit 0 set reads as the client does (server frames,
    /// protocol/Client/CmpTcpTransport.cs), bits 1..7 pick how many bytes each read returns (0: as many as asked).
    /// Each read may allocate at most the value limit of its side plus fixed costs.
    /// </summary>
    public static void Tcp(byte[] input)
    {
        if (input.Length == 0)
        {
            return;
        }
        FuzzEnvironment env = FuzzEnvironment.Instance;
        bool fromClient = (input[0] & 1) == 0;
        int chunk = input[0] >> 1;
        // The gateway reads up to Cmp:Limits:MaxMessageBytes; the client (test and load tool) up to its MaxResponseBytes.
        int max = fromClient ? env.Limits.MaxMessageBytes : ClientMaxResponseBytes;
        using var stream = new ChunkedReadStream(input.AsMemory(1), chunk);
        for (int frames = 0; frames < MaxFramesPerConnection; frames++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            CmpTcpReadResult read = CmpTcpFrameReader.ReadAsync(
                stream, max, fromClient, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1), CancellationToken.None).GetAwaiter().GetResult();
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            if (allocated > max + TcpReadOverhead)
            {
                throw new FuzzFindingException($"one frame read allocated {allocated} bytes (limit {max} + {TcpReadOverhead})");
            }
            switch (read.Status)
            {
                case CmpTcpReadStatus.Frame:
                    if (read.Frame.Value.Length > max)
                    {
                        throw new FuzzFindingException($"a frame value of {read.Frame.Value.Length} bytes passed the limit {max}");
                    }
                    if (!fromClient)
                    {
                        _ = read.Frame.ReadError();
                        if (read.Frame.Type != CmpTcpMessageType.PkiRep)
                        {
                            return;
                        }
                    }
                    else if (!DispatchFrame(read.Frame.Value))
                    {
                        return;
                    }
                    if (read.Frame.CloseConnection)
                    {
                        return;
                    }
                    continue;
                case CmpTcpReadStatus.Fault:
                    CmpTcpError code = read.Fault switch
                    {
                        CmpTcpHeaderFault.TooLarge => CmpTcpError.MessageTooLarge,
                        CmpTcpHeaderFault.BadVersion => CmpTcpError.VersionNotSupported,
                        CmpTcpHeaderFault.BadMessageType => CmpTcpError.MessageTypeNotSupported,
                        _ => CmpTcpError.BadMessage,
                    };
                    _ = CmpTcpFrame.Error(code, read.Fault.ToString()).Encode();
                    return;
                case CmpTcpReadStatus.Closed or CmpTcpReadStatus.Truncated:
                    return;
                default:
                    // A memory stream never waits: a timeout here is the reader's own doing.
                    throw new FuzzFindingException($"the frame reader reported {read.Status} on a stream that never waits");
            }
        }
    }

    /// <summary>gateway/Tcp/CmpTcpListener.cs ServeOneAsync after a frame: dispatch, then frame the answer. False: the connection closes.</summary>
    private static bool DispatchFrame(byte[] der)
    {
        FuzzEnvironment env = FuzzEnvironment.Instance;
        try
        {
            DispatchResult result = env.Dispatcher.DispatchAsync(FuzzEnvironment.RaAliasName, der).GetAwaiter().GetResult();
            _ = CmpTcpFrame.Error(CmpTcpError.BadMessage, result.Reason ?? "bad message").Encode();
            return false;
        }
        catch (GrainCallReached)
        {
            _ = CmpTcpFrame.Response(der, closeConnection: false).Encode();
            return true;
        }
    }

    // ---------------------------------------------------------------- ocsp

    /// <summary>
    /// An OCSP request body (gateway/RevocationEndpoints.cs POST /ocsp) through grains/Revocation/OcspResponderGrain.cs:
    /// <see cref="OcspMessages.TryParse"/>, the issuer lookup, the per-CertID checks and the signed response that echoes
    /// the nonce. The certificate grain's status lookup is left out: every serial we could have issued is answered good.
    /// </summary>
    public static void Ocsp(byte[] der)
    {
        if (der.Length > RevocationEndpoints.MaxOcspRequestBytes)
        {
            return;
        }
        FuzzEnvironment env = FuzzEnvironment.Instance;
        OcspQuery? query = OcspMessages.TryParse(der, env.Pki.Ocsp.MaxRequestEntries);
        if (query is null)
        {
            _ = OcspMessages.Error(OcspResponseStatus.MalformedRequest);
            return;
        }
        OcspIssuer? issuer = query.Ids.Select(env.OcspIssuers.Find).FirstOrDefault(c => c is not null);
        if (issuer is null)
        {
            _ = OcspMessages.Error(OcspResponseStatus.Unauthorized);
            return;
        }
        DateTimeOffset now = DateTimeOffset.UtcNow;
        TimeSpan? validity = env.Pki.Ocsp.ResponseValidity;
        SingleResponse[] responses = query.Ids.Select(id =>
        {
            BigInteger serial = id.SerialNumber.Value;
            if (env.OcspIssuers.Find(id) != issuer || serial.SignValue <= 0 || serial.BitLength > 20 * 8)
            {
                return OcspMessages.Unknown(id, now, validity);
            }
            _ = serial.ToString(16).ToUpperInvariant();
            return OcspMessages.Good(id, now, validity);
        }).ToArray();
        _ = OcspMessages.Successful(issuer.Ca.OcspSigner, includeSignerCertificate: true, responses, query.Nonce, now);
    }

    // ---------------------------------------------------------------- files

    /// <summary>Runs every file under <paramref name="folder"/> through the harness <paramref name="name"/>; used by reproduction and tests.</summary>
    public static IEnumerable<string> Files(string folder) =>
        Directory.Exists(folder)
            ? Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Where(f => !Path.GetFileName(f).StartsWith('.')).Order(StringComparer.Ordinal)
            : [];
}

/// <summary>A read-only stream over memory that returns at most <c>chunk</c> bytes per read (0: as many as asked), never waiting.</summary>
public sealed class ChunkedReadStream(ReadOnlyMemory<byte> data, int chunk) : Stream
{
    private int _position;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => data.Length;
    public override long Position { get => _position; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int n = Math.Min(buffer.Length, data.Length - _position);
        if (chunk > 0)
        {
            n = Math.Min(n, chunk);
        }
        data.Span.Slice(_position, n).CopyTo(buffer);
        _position += n;
        return n;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        cancellationToken.IsCancellationRequested ? ValueTask.FromCanceled<int>(cancellationToken) : ValueTask.FromResult(Read(buffer.Span));

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
