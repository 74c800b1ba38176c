using System.Diagnostics;
using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Grains.Authentication;
using CmpCluster.Grains.EndEntities;
using CmpCluster.Grains.Handlers;
using CmpCluster.Grains.Pki;
using CmpCluster.Grains.Telemetry;
using CmpCluster.Protocol;
using CmpCluster.Protocol.Configuration;
using CmpCluster.Protocol.Messages;
using CmpCluster.Protocol.Policy;
using CmpCluster.Protocol.ServerKeys;
using CmpCluster.Protocol.Validation;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Org.BouncyCastle.Asn1.Cmp;
using Org.BouncyCastle.Asn1.Crmf;
using Org.BouncyCastle.Asn1.X509;

namespace CmpCluster.Grains.Transactions;

/// <summary>
/// The protocol engine of one transaction: duplicates, nonces, phase, implicitConfirm, certConf and the confirm
/// timeout live here; handlers make the business decisions and return them as data (<see cref="Decision"/>). A request
/// goes through four named stages: <see cref="AdmitAsync"/> (decode once, header checks, phase, authentication),
/// <see cref="DecideAsync"/> (the handler), <see cref="ConcludeAsync"/> (what a refusal or fault does to the transaction)
/// and <see cref="RecordAnswerAsync"/> (the persistence step); every phase change goes through <see cref="Advance"/>
/// (<see cref="TransactionMachine.Next"/>). Not reentrant: one message at a time. A closed transaction deactivates at
/// once; an open one that is abandoned goes after two idle minutes, its deadline still in the store's index.
/// </summary>
[CollectionAgeLimit(Minutes = 2)]
public sealed partial class CmpTransactionGrain(
    [Microsoft.Extensions.DependencyInjection.FromKeyedServices(GrainNames.Transactions)] Orleans.Storage.IGrainStorage store,
    IGrainContext context,
    IOptionsMonitor<CmpOptions> options,
    PkiKeyRing keys,
    IOptions<PkiOptions> pki,
    CaStatusCache caStatus,
    ResponseProtectors protectors,
    RequestAuthenticator authenticator,
    EnrollmentHandler enrollment,
    Policy.EnrollmentPolicies policies,
    CertConfHandler certConf,
    RevocationHandler revocation,
    GenmHandler genm,
    Audit.IAuditTrail audit,
    DeadlineSweeperKickoff sweeper,
    TimeProvider time,
    ILogger<CmpTransactionGrain> logger) : Grain, ICmpTransactionGrain, ITransactionControlGrain
{
    /// <summary>Read at activation (<see cref="OnActivateAsync"/>), written by this grain alone; see <see cref="Storage.StoredState{TState}"/>.</summary>
    private readonly Storage.StoredState<TransactionState> state = new(store, StateName, context.GrainId);

    public override Task OnActivateAsync(CancellationToken cancellationToken) => state.ReadStateAsync();

    /// <summary>The state name under <see cref="GrainNames.Transactions"/>; the Redis store indexes deadlines by it.</summary>
    public const string StateName = "transaction";

    /// <summary>
    /// One request on its way through the stages: what each learnt. Lives for one grain call (the grain is not reentrant).
    /// </summary>
    private sealed class Exchange(CmpRequest request, CmpAliasOptions alias, CertificateAuthorityKeys ca, byte[] requestHash,
        string diagnosticId, TransactionPhase phaseBefore, bool insideTrustedNested)
    {
        public CmpRequest Request { get; } = request;
        public CmpAliasOptions Alias { get; } = alias;
        /// <summary>Errors before the request names its CA (KeyID) are signed by the alias's CA, or the first this silo has.</summary>
        public CertificateAuthorityKeys Ca { get; set; } = ca;
        /// <summary>SHA-256 of the request: duplicates, and the write-ahead's check that a resume is the same request.</summary>
        public byte[] RequestHash { get; } = requestHash;
        public string DiagnosticId { get; } = diagnosticId;
        public TransactionPhase PhaseBefore { get; } = phaseBefore;
        public bool InsideTrustedNested { get; } = insideTrustedNested;
        public DecodedRequest? Decoded { get; set; }
        public Authenticated? Authenticated { get; set; }
    }

    public Task<byte[]> HandleAsync(CmpRequest request) => HandleAsync(request, insideTrustedNested: false);

    /// <summary>Only this engine calls it, for the inner messages of a nested message whose RA it verified.</summary>
    public Task<byte[]> HandleNestedAsync(CmpRequest request) => HandleAsync(request, insideTrustedNested: true);

    private async Task<byte[]> HandleAsync(CmpRequest request, bool insideTrustedNested)
    {
        // The grain key names the alias; a request that names another is a wiring fault (or a forged call), never served.
        if (!TransactionKey.StartsWith(request.Alias + "/", StringComparison.Ordinal))
        {
            throw new ArgumentException($"request for alias '{request.Alias}' sent to transaction {TransactionKey}");
        }
        long started = Stopwatch.GetTimestamp();
        using Activity? activity = GrainTelemetry.Source.StartActivity("cmp.request");
        string diagnosticId = GrainTelemetry.NewDiagnosticId(activity ?? Activity.Current);
        activity?.SetTag("cmp.alias", request.Alias);
        activity?.SetTag("cmp.transaction", TransactionKey);
        // An identical retransmission of the last request gets the identical stored response: no crypto, no new certificate.
        byte[] requestHash = SHA256.HashData(request.Der);
        if (state.State.LastRequestHash is { } last && state.State.LastResponse is { } stored && CryptographicOperations.FixedTimeEquals(last, requestHash))
        {
            Summarize(activity, request.Alias, "-", "duplicate", "duplicate", null, diagnosticId, started);
            return stored;
        }
        // The gateway answers unknown aliases with 404; reaching here without one is a wiring fault, not a CMP error.
        CmpAliasOptions alias = options.CurrentValue.Aliases.GetValueOrDefault(request.Alias)
            ?? throw new ArgumentException($"unknown alias '{request.Alias}'");
        var exchange = new Exchange(request, alias, keys.FindAuthority(alias.Ca) ?? keys.Default, requestHash, diagnosticId,
            state.State.Phase, insideTrustedNested);

        Decision decision = await DecideAsync(exchange);
        bool record = await ConcludeAsync(exchange, decision);
        PkiBody body = DecisionResponses.Render(decision, diagnosticId, options.CurrentValue.PollCheckAfter);
        ResponseContext context = exchange.Decoded is { } decoded ? ResponseContext.For(decoded) : ResponseContext.Undecoded(KeyTransactionId());
        if (decision is Issuance { PrivateKey.IsEncryptedValue: false })
        {
            // RFC 9480 §2.20, RFC 9483 §3.1: a message carrying EnvelopedData is cmp2021 (pvno 3).
            context = context with { Pvno = 3 };
        }
        BuiltResponse response;
        try
        {
            response = await CmpResponseBuilder.BuildAsync(context, body, protectors.For(alias, exchange.Ca, exchange.Authenticated),
                time.GetUtcNow(), implicitConfirmGranted: decision is Issuance { ImplicitConfirm: true });
        }
        catch (KeyUnavailableException e)
        {
            // The CMP signer's key is on a token that is away: nothing this request changed is kept (a retry finds the
            // stored state, and an issuance it recorded resumes), and the client learns why, unprotected.
            LogFailure(logger, e, request.Alias, TransactionKey, diagnosticId);
            await state.ReadStateAsync();
            decision = new Fault(new CmpFailure(PkiFailureInfo.SystemUnavail, "the CA cannot sign its response now: its CMP signer key is unavailable; retry later"));
            response = CmpResponseBuilder.BuildUnprotected(context, DecisionResponses.Render(decision, diagnosticId, options.CurrentValue.PollCheckAfter),
                new GeneralName(exchange.Ca.Ca.Certificate.Subject), time.GetUtcNow());
            record = false;
        }
        if (record)
        {
            await RecordAnswerAsync(exchange, response);
        }

        CmpFailure? failure = FailureOf(decision);
        string bodyType = exchange.Decoded?.BodyType.ToString() ?? "undecodable";
        string result = failure is null ? "ok" : decision is Fault ? "failed" : "rejected";
        activity?.SetTag("cmp.body", bodyType);
        activity?.SetTag("cmp.ca", exchange.Ca.Name);
        Summarize(activity, request.Alias, bodyType, result, failure?.ToString() ?? "ok", failure, diagnosticId, started);
        return response.Der;
    }

    /// <summary>The failure a decision answers with, if any (for metrics and the log).</summary>
    private static CmpFailure? FailureOf(Decision decision) => decision switch
    {
        Refusal refusal => refusal.Failure,
        Fault fault => fault.Failure,
        Confirmation confirmation => confirmation.Failure,
        RevocationReply revocation => revocation.Failure,
        _ => null,
    };

    /// <summary>
    /// Stage 1: the request is decoded once, its header checked against the alias, admitted by the transaction's phase and
    /// authenticated. Throws <see cref="CmpFailureException"/> for whatever refuses it.
    /// </summary>
    private async Task<(DecodedRequest Decoded, Authenticated Authenticated)> AdmitAsync(Exchange exchange)
    {
        // The alias's own MAC floors and messageTime window over Cmp:Limits (RFC 9483 §3.1, §3.2).
        CmpLimits limits = options.CurrentValue.Limits.For(exchange.Alias);
        DecodedRequest decoded = DecodedRequest.Decode(exchange.Request.Der, limits);
        exchange.Decoded = decoded;
        HeaderValidator.Validate(decoded, limits, time.GetUtcNow());
        exchange.Ca = ResolveCa(exchange.Alias, decoded);
        if (TransactionMachine.Admit(state.State.Phase, decoded.BodyType, decoded.RecipNonce, state.State.LastSenderNonce) is { } refused)
        {
            // Refused before authentication: answer, but never let it touch the stored transaction.
            throw new CmpFailureException(refused);
        }
        Authenticated authenticated = state.State.Protection is { } first
            ? await authenticator.AuthenticateFollowUpAsync(decoded, exchange.Alias, limits, TransactionKey, first, state.State.Username, exchange.InsideTrustedNested)
            : await authenticator.AuthenticateAsync(decoded, exchange.Alias, limits, TransactionKey, exchange.InsideTrustedNested);
        exchange.Authenticated = authenticated;
        CheckSameProtection(authenticated);
        return (decoded, authenticated);
    }

    /// <summary>
    /// Stage 2: admission, then the handler for the body type. Whatever refuses the request becomes a <see cref="Refusal"/>;
    /// whatever fails inside becomes a <see cref="Fault"/>, its detail in the log under the diagnostic id.
    /// </summary>
    private async Task<Decision> DecideAsync(Exchange exchange)
    {
        try
        {
            (DecodedRequest decoded, Authenticated authenticated) = await AdmitAsync(exchange);
            return BodyDispatch.Route(decoded.BodyType) switch
            {
                BodyRoute.Enrollment => await EnrollAsync(exchange, decoded, authenticated),
                BodyRoute.Confirmation => await ConfirmAsync(exchange, decoded),
                BodyRoute.Revocation => await RevokeAsync(exchange, decoded, authenticated),
                BodyRoute.General => await GeneralAsync(exchange, decoded, authenticated),
                BodyRoute.Polling => await PollAsync(exchange, decoded, authenticated),
                BodyRoute.Nested => await NestedAsync(decoded),
                BodyRoute.NotSupportedYet => throw new CmpFailureException(PkiFailureInfo.BadRequest, $"{decoded.BodyType} is not supported yet"),
                _ => throw new CmpFailureException(PkiFailureInfo.BadRequest, $"{decoded.BodyType} is not a request"),
            };
        }
        catch (CmpFailureException e)
        {
            return new Refusal(e.Failure);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Internal detail stays in the log; the client learns only that the system failed.
            LogFailure(logger, e, exchange.Request.Alias, TransactionKey, exchange.DiagnosticId);
            // The CA refuses to sign what it cannot record: a client may retry later (systemUnavail, RFC 9810 §5.2.3).
            return new Fault(e switch
            {
                Audit.AuditUnavailableException => new CmpFailure(PkiFailureInfo.SystemUnavail, "the CA cannot record this operation now; retry later"),
                // A CA key on a PKCS#11 token that is away: nothing was signed (grains/Pki/Pkcs11Token.cs).
                KeyUnavailableException => new CmpFailure(PkiFailureInfo.SystemUnavail, "the CA cannot sign now: its key is unavailable; retry later"),
                _ => new CmpFailure(PkiFailureInfo.SystemFailure, "internal error"),
            });
        }
    }

    /// <summary>
    /// Stage 3: what a refusal or a fault does to the transaction (a handler's other decisions already advanced it), and
    /// whether the answer is recorded. An authenticated request that fails closes a new transaction (its retransmission
    /// gets the same error) and ends a waiting one (RFC 9810 §5.3.21); a failing follow-up never overwrites what an open
    /// transaction stored; an unauthenticated one never touches it.
    /// </summary>
    private async Task<bool> ConcludeAsync(Exchange exchange, Decision decision)
    {
        switch (decision)
        {
            case Refusal { Failure: var failure }:
                Authenticated? authenticated = exchange.Authenticated;
                if (authenticated is null && failure.FailInfo is PkiFailureInfo.BadMessageCheck or PkiFailureInfo.NotAuthorized
                    or PkiFailureInfo.SignerNotTrusted or PkiFailureInfo.WrongIntegrity)
                {
                    await AuditAuthenticationFailureAsync(exchange, failure);
                }
                await AbortOpenEnrollmentAsync(exchange);
                if (authenticated is null || exchange.PhaseBefore is not (TransactionPhase.New or TransactionPhase.Waiting))
                {
                    return false;
                }
                if (state.State.Phase == TransactionPhase.Waiting)
                {
                    await CloseWaitingAsync(TransactionEvent.Refused);
                }
                else if (state.State.Phase != TransactionPhase.Closed)
                {
                    Advance(TransactionEvent.Refused);
                    if (exchange.PhaseBefore == TransactionPhase.Waiting)
                    {
                        // Granted at its poll, then failed after the serial was recorded: the wait is over either way.
                        await ReleaseEnrollmentAsync();
                    }
                }
                return true;
            case Fault:
                await AbortOpenEnrollmentAsync(exchange);
                // Nothing half-done stays in memory: the next request starts from what was stored.
                await state.ReadStateAsync();
                return false;
            default:
                return true;
        }
    }

    /// <summary>
    /// Stage 4, the persistence step of an answer: the response is stored with the state, before it leaves the grain, so
    /// what a client was told is never lost and its retransmission gets the same bytes.
    /// </summary>
    private async Task RecordAnswerAsync(Exchange exchange, BuiltResponse response)
    {
        state.State.LastRequestHash = exchange.RequestHash;
        state.State.LastResponse = response.Der;
        state.State.LastSenderNonce = response.SenderNonce;
        state.State.Protection ??= exchange.Authenticated?.Kind;
        state.State.SenderKid ??= exchange.Authenticated?.SenderKid;
        await PersistAsync();
    }

    /// <summary>One summary event, metric and span status per request, all carrying the same diagnostic id.</summary>
    private void Summarize(Activity? activity, string alias, string body, string result, string detail, CmpFailure? failure, string diagnosticId, long started)
    {
        double elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        string failInfo = failure?.FailInfo.ToString() ?? "none";
        GrainTelemetry.Requests.Add(1, new("alias", alias), new("body", body), new("outcome", result), new("fail_info", failInfo));
        GrainTelemetry.RequestDuration.Record(elapsed, new("alias", alias), new("body", body), new("outcome", result));
        if (failure is not null)
        {
            activity?.SetTag("cmp.fail_info", failInfo);
            activity?.SetStatus(ActivityStatusCode.Error, failInfo);
        }
        LogRequest(logger, alias, TransactionKey, body, result, detail, diagnosticId, elapsed);
    }

    /// <summary>ir / cr / p10cr / kur: checked, then issued now or deferred (approval, signing capacity); the certificate waits for certConf unless implicitly confirmed.</summary>
    private async Task<Decision> EnrollAsync(Exchange exchange, DecodedRequest request, Authenticated authenticated)
    {
        CmpAliasOptions alias = exchange.Alias;
        CertificateAuthorityKeys ca = exchange.Ca;
        CmpOptions settings = options.CurrentValue;
        // Client mode issues with the end entity's registered profile; RA mode with the alias's (or the senderKID's: KeyID).
        string profileName = authenticated.EndEntity?.CertificateProfile
            ?? (alias.CertificateProfile == CmpAliasOptions.KeyId ? KeyIdOf(request) : alias.CertificateProfile);
        CertificateProfileOptions profile = settings.Profiles.GetValueOrDefault(profileName)
            ?? throw new CmpFailureException(PkiFailureInfo.NotAuthorized, $"certificate profile '{profileName}' is not available");
        // An operator may have disabled the CA (admin API): it issues nothing new, and says so.
        if (!await caStatus.IsEnabledAsync(ca.Name))
        {
            throw new CmpFailureException(PkiFailureInfo.NotAuthorized, $"CA '{ca.Name}' is disabled");
        }
        // The CA issues only with the profiles it allows (Pki:Cas:{name}:AllowedCertificateProfiles; checked at start unless KeyID names them).
        if (pki.Value.Definition(ca.Name) is { } definition && !definition.Allows(profileName))
        {
            throw new CmpFailureException(PkiFailureInfo.NotAuthorized, $"CA '{ca.Name}' does not issue with certificate profile '{profileName}'");
        }
        // RA mode: the end-entity profile limits the certificate profiles and CAs (checked at start unless KeyID names them).
        if (authenticated.EndEntity is null && settings.EndEntityProfiles.GetValueOrDefault(alias.EndEntityProfile) is { } endEntityProfile
            && (endEntityProfile.AllowedCertificateProfiles?.Contains(profileName) == false || endEntityProfile.AllowedCas?.Contains(ca.Name) == false))
        {
            throw new CmpFailureException(PkiFailureInfo.NotAuthorized, $"end-entity profile '{alias.EndEntityProfile}' does not allow this certificate profile or CA");
        }
        // RFC 9810 §5.1.1.1: implicitConfirm is granted only when asked for and allowed.
        bool implicitConfirm = request.ImplicitConfirmRequested && alias.AllowImplicitConfirm;
        // RA mode: the end entity is named before anything is issued, so a name that cannot be made refuses the request.
        string? raUsername = alias.Mode == AliasMode.Ra && authenticated.EndEntity is null && request.CertRequests is [{ CertReq.CertTemplate.Subject: { } subject }]
            ? RaNames.Generate(alias, subject)
            : null;
        var enrollmentRequest = new EnrollmentRequest(
            request.CertRequests, alias, ca, profile, authenticated.Principal, TransactionKey, implicitConfirm, authenticated.EndEntity,
            authenticated.Updated, raUsername, profileName, authenticated.VendorIssuer)
        {
            RequestType = request.BodyType,
            Pkcs10 = request.Pkcs10,
            EndEntityProfile = settings.EndEntityProfiles.GetValueOrDefault(alias.EndEntityProfile),
            EndEntityProfileName = alias.EndEntityProfile,
            // RFC 4211 §4.1 authInfo: the sender the request authenticated as; an RA alias's own secret for a publicKeyMAC.
            PopContext = new PopContext(request.Header.Sender,
                alias.Mode == AliasMode.Ra && !string.IsNullOrEmpty(alias.Secret) ? System.Text.Encoding.UTF8.GetBytes(alias.Secret) : null,
                settings.Limits.For(alias)),
            KeyRecipient = alias.AllowServerGeneratedKeys && request.CertRequests is [{ CertReq.CertTemplate: var template }] && ServerKeySpec.IsRequested(template)
                ? await KeyRecipientAsync(request, authenticated, alias)
                : null,
        };
        // Every check of the request and its POP, once: what can never be granted is refused before any wait.
        PreparedEnrollment prepared = enrollment.Prepare(enrollmentRequest);
        // The deployment's request-handler plug-ins (protocol/Policy/IEnrollmentPolicy.cs), where the alias names any:
        // refuse, defer or allow. An alias without plug-ins pays nothing here.
        if (alias.EnrollmentPolicies is { Length: > 0 })
        {
            switch (await policies.EvaluateAsync(alias, new EnrollmentContext(exchange.Request.Alias, authenticated.Principal, request.BodyType,
                prepared.Issuance.Subject, prepared.Issuance.PublicKey, prepared.Issuance.EndEntity, profileName, TransactionKey, authenticated.VendorSerial)))
            {
                case PolicyVerdict.Refused refused:
                    throw new CmpFailureException(refused.FailInfo, refused.Text);
                case PolicyVerdict.Adjusted adjusted:
                    prepared = EnrollmentHandler.Adjust(enrollmentRequest, prepared, adjusted.Changes);
                    break;
                case PolicyVerdict.Deferred:
                    return await DeferAsync(request, enrollmentRequest, prepared, WaitReason.Policy, authenticated);
            }
        }
        // RFC 9483 §4.4: an approval rule or a saturated signer makes the request wait.
        WaitReason? wait = profile.RequireApproval && state.State.Approval != ApprovalDecision.Approved ? WaitReason.Approval : null;
        int capacity = settings.MaxConcurrentIssuances;
        if (wait is not null || !IssuanceCapacity.TryEnter(capacity))
        {
            return await DeferAsync(request, enrollmentRequest, prepared, wait ?? WaitReason.Capacity, authenticated);
        }
        DateTimeOffset confirmDeadline = time.GetUtcNow() + alias.ConfirmWaitTime;
        Func<string, Task>? writeAhead = key => RecordIssuingAsync(exchange, key);
        if (!implicitConfirm && enrollment.CertificatesKeepDeadlines)
        {
            // The certificate awaits confirmation with a deadline of its own, one the store indexes with its record (after
            // this transaction's, which acts first): that record is the write-ahead, and the serial is derived from this
            // request, so a retry after a crash gets the certificate already signed. Implicitly confirmed, a record is final
            // when written, so the transaction records the serial before anything is signed.
            writeAhead = null;
            prepared = prepared with
            {
                Issuance = prepared.Issuance with
                {
                    // The request hash the engine already took, unless this is a waiting request granted at its poll.
                    SerialSource = [.. System.Text.Encoding.UTF8.GetBytes(TransactionKey),
                        .. (ReferenceEquals(request, exchange.Decoded) ? exchange.RequestHash : SHA256.HashData(request.Der))],
                    ConfirmBy = confirmDeadline + settings.ConfirmCheckPeriod,
                },
            };
        }
        Issuance issued;
        try
        {
            issued = await enrollment.HandleAsync(enrollmentRequest, prepared, ResumableIssuance(exchange), writeAhead);
        }
        finally
        {
            IssuanceCapacity.Exit(capacity);
        }
        bool keyUpdate = authenticated.Updated is not null;
        if (authenticated.EndEntity is { } endEntity)
        {
            // Issued: the one-time code is consumed before the answer leaves (status GENERATED). A key update keeps the end
            // entity's enrollment open until certConf or the timeout, so a second update cannot overlap it.
            DateTimeOffset? holdUntil = keyUpdate && !implicitConfirm ? confirmDeadline + settings.ConfirmCheckPeriod + TimeSpan.FromMinutes(1) : null;
            await GrainFactory.GetGrain<IEndEntityGrain>(GrainKeys.EndEntity(endEntity.Username))
                .CompleteEnrollmentAsync(TransactionKey, issued.Certificate.Key, holdUntil,
                    followUpExpected: !implicitConfirm && RequestAuthenticator.EndEntityVerifiesFollowUp(authenticated.Kind));
            state.State.Username = endEntity.Username;
            state.State.UpdatedCertificateKey = authenticated.Updated?.Key;
        }
        else if (raUsername is not null)
        {
            // EJBCA's CMP documentation, "RA mode for CMP": the end entity is created, or updated and re-issued when the name exists.
            await GrainFactory.GetGrain<IEndEntityGrain>(GrainKeys.EndEntity(raUsername)).RecordRaIssuanceAsync(
                new EndEntityRegistration(issued.Parsed.Subject.ToString(), [], ca.Name, profileName, alias.EndEntityProfile, null), issued.Certificate.Key);
            state.State.Username = raUsername;
        }

        state.State.CertificateKeys.Add(issued.Certificate.Key);
        state.State.IssuingCertificateKey = null;
        state.State.IssuingRequestHash = null;
        if (implicitConfirm)
        {
            Advance(TransactionEvent.DeliveredConfirmed);
            await FinishKeyUpdateAsync(alias, newCertificateConfirmed: true);
        }
        else
        {
            state.State.Pending = [new PendingCertificate(issued.CertReqId, issued.Certificate.Key, issued.Certificate.Der)];
            state.State.ConfirmDeadline = confirmDeadline;
            Advance(TransactionEvent.Delivered);
        }
        return issued;
    }

    /// <summary>
    /// Who can receive a server-generated key (RFC 9483 §4.1.6): the shared secret of an RA-mode MAC (the alias's, else
    /// the CA's RA secret); in client mode the end entity's one-time code (MAC or a code in the request), through a
    /// key-encryption key its grain derives so the code stays there; or the certificate whose signature protected the request.
    /// </summary>
    private async Task<KeyRecipient?> KeyRecipientAsync(DecodedRequest request, Authenticated authenticated, CmpAliasOptions alias)
    {
        switch (authenticated.Kind)
        {
            case ProtectionKind.PasswordBasedMac when alias.Mode == AliasMode.Ra:
                return (string.IsNullOrEmpty(alias.Secret) ? pki.Value.CmpRaSecretOf(alias.Ca, request.SenderKid) : alias.Secret) is { Length: > 0 } secret
                    ? KeyRecipient.Password.FromSecret(System.Text.Encoding.UTF8.GetBytes(secret))
                    : null;
            case ProtectionKind.PasswordBasedMac or ProtectionKind.PasswordInRequest when authenticated.EndEntity is { } endEntity:
                byte[] salt = KeyRecipient.Password.NewSalt();
                return await GrainFactory.GetGrain<IEndEntityGrain>(GrainKeys.EndEntity(endEntity.Username))
                    .DeriveKeyEncryptionKeyAsync(TransactionKey, salt, Protocol.ServerKeys.KeyPackage.PasswordIterations) is { } kek
                    ? new KeyRecipient.Password(salt, Protocol.ServerKeys.KeyPackage.PasswordIterations, kek)
                    : null;
            case ProtectionKind.Signature when request.Message.GetExtraCerts() is [{ X509v3PKCert: { } signer }, ..]:
                return new KeyRecipient.Certificate(signer);
            default:
                return null;
        }
    }

    /// <summary>certConf (RFC 9810 §5.3.18): the handler confirms or revokes; the transaction closes either way.</summary>
    private async Task<Decision> ConfirmAsync(Exchange exchange, DecodedRequest request)
    {
        Confirmation confirmation = await certConf.HandleAsync(request.CertStatuses, state.State.Pending);
        await FinishKeyUpdateAsync(exchange.Alias, newCertificateConfirmed: confirmation.Confirmed.Count > 0);
        Advance(confirmation.Failure is null ? TransactionEvent.Confirmed : TransactionEvent.ConfirmationFailed);
        return confirmation;
    }

    /// <summary>
    /// Write-ahead (the issuance cycle, grains/Certificates/CertificateIssuer.cs): the reserved serial is recorded (phase Issuing, with a
    /// deadline the store indexes in the same write) before anything is signed. A crash after signing then leaves a
    /// transaction that knows its certificate: the same request resumes it, and otherwise the deadline sweeper revokes it.
    /// It never leaves a second signature.
    /// </summary>
    private async Task RecordIssuingAsync(Exchange exchange, string certificateKey)
    {
        Advance(TransactionEvent.SerialRecorded);
        state.State.IssuingCertificateKey = certificateKey;
        state.State.IssuingRequestHash = exchange.RequestHash;
        state.State.ConfirmDeadline = time.GetUtcNow() + exchange.Alias.ConfirmWaitTime;
        await PersistAsync();
    }

    /// <summary>The serial an interrupted attempt reserved, when this request is that attempt's retransmission.</summary>
    private string? ResumableIssuance(Exchange exchange)
    {
        if (state.State.Phase != TransactionPhase.Issuing)
        {
            return null;
        }
        return state.State.IssuingRequestHash is { } hash && CryptographicOperations.FixedTimeEquals(hash, exchange.RequestHash)
            ? state.State.IssuingCertificateKey
            : throw new CmpFailureException(PkiFailureInfo.TransactionIdInUse, "transactionID is in use");
    }

    /// <summary>rr: the handler decides; the transaction closes with its rp, accepted or rejected (RFC 9483 §4.2).</summary>
    private async Task<Decision> RevokeAsync(Exchange exchange, DecodedRequest request, Authenticated authenticated)
    {
        RevocationReply reply = await revocation.HandleAsync(request.Revocations, exchange.Alias, authenticated, TransactionKey);
        if (reply.CertificateKey is { } key)
        {
            state.State.CertificateKeys.Add(key);
        }
        Advance(reply.Failure is null ? TransactionEvent.Revoked : TransactionEvent.RevocationRefused);
        return reply;
    }

    /// <summary>genm → genp (RFC 9483 §4.3); the transaction closes with it.</summary>
    private async Task<Decision> GeneralAsync(Exchange exchange, DecodedRequest request, Authenticated authenticated)
    {
        CmpAliasOptions alias = exchange.Alias;
        string? profileName = authenticated.EndEntity?.CertificateProfile
            ?? (alias.CertificateProfile == CmpAliasOptions.KeyId ? (request.SenderKid is null ? null : KeyIdOf(request)) : alias.CertificateProfile);
        InformationReply reply = await genm.HandleAsync(request.InfoRequests, alias, exchange.Ca, profileName);
        Advance(TransactionEvent.GeneralResponse);
        return reply;
    }

    /// <summary>
    /// The end of a key update's confirmation: the updated certificate is revoked as superseded when the new one was
    /// confirmed and the alias asks for it, and the end entity's held enrollment is released either way.
    /// </summary>
    private async Task FinishKeyUpdateAsync(CmpAliasOptions? alias, bool newCertificateConfirmed)
    {
        if (state.State.UpdatedCertificateKey is not { } updated || state.State.Username is not { } username)
        {
            return;
        }
        if (newCertificateConfirmed && alias?.RevokeUpdatedCertificate == true)
        {
            await GrainFactory.GetGrain<ICertificateGrain>(updated).RevokeAsync(
                new RevocationRequest(RevocationReason.Superseded, $"updated by {TransactionKey}"));
        }
        await GrainFactory.GetGrain<IEndEntityGrain>(GrainKeys.EndEntity(username)).AbortEnrollmentAsync(TransactionKey);
    }

    /// <summary>The alias's CA, or with KeyID the CA the request's senderKID names (EJBCA's CMP documentation: "KeyID"); unknown: wrongAuthority.</summary>
    private CertificateAuthorityKeys ResolveCa(CmpAliasOptions alias, DecodedRequest request)
    {
        string name = alias.Ca == CmpAliasOptions.KeyId ? KeyIdOf(request) : alias.Ca;
        return keys.FindAuthority(name)
            ?? throw new CmpFailureException(PkiFailureInfo.WrongAuthority, $"CA '{name}' is not served here");
    }

    private static string KeyIdOf(DecodedRequest request) => request.SenderKid is { } kid
        ? System.Text.Encoding.UTF8.GetString(kid)
        : throw new CmpFailureException(PkiFailureInfo.BadRequest, "this alias takes the CA or profile from the senderKID, and there is none");

    /// <summary>A client-mode enrollment opened for this request but answered with an error releases the end entity.</summary>
    private async Task AbortOpenEnrollmentAsync(Exchange exchange)
    {
        if (exchange.PhaseBefore == TransactionPhase.New && exchange.Authenticated?.EndEntity is { } endEntity)
        {
            await GrainFactory.GetGrain<IEndEntityGrain>(GrainKeys.EndEntity(endEntity.Username)).AbortEnrollmentAsync(TransactionKey);
        }
    }

    private string TransactionKey => this.GetPrimaryKeyString();

    /// <summary>A request that failed authentication, for the audit trail; best effort, since the answer is an error anyway.</summary>
    private async Task AuditAuthenticationFailureAsync(Exchange exchange, CmpFailure failure)
    {
        try
        {
            await audit.AppendAsync(new Audit.AuditEvent(Audit.AuditEventType.AuthenticationFailed, $"alias {exchange.Request.Alias}", TransactionKey,
                $"{failure.FailInfo} diagnostic={exchange.DiagnosticId}"));
        }
        catch (Audit.AuditUnavailableException)
        {
            LogAuditUnavailable(logger, TransactionKey);
        }
    }

    /// <summary>RFC 9810 §5.1.3: a transaction keeps the protection it started with (wrongIntegrity otherwise).</summary>
    private void CheckSameProtection(Authenticated authenticated)
    {
        if (state.State.Protection is { } kind && (kind != authenticated.Kind ||
            !(state.State.SenderKid ?? []).AsSpan().SequenceEqual(authenticated.SenderKid ?? [])))
        {
            throw new CmpFailureException(PkiFailureInfo.WrongIntegrity, "protection differs from the start of the transaction");
        }
    }

    /// <summary>
    /// Called by the deadline sweeper (<see cref="DeadlineSweeperGrain"/>) once <see cref="TransactionState.DueAt"/> passed:
    /// unconfirmed certificates are revoked (RFC 9810 §5.3.18: the CA may revoke what was not confirmed), an issuance a
    /// crash interrupted is revoked, a request that waited too long is rejected. Idempotent: nothing due, nothing done.
    /// </summary>
    public async Task ExpireIfDueAsync()
    {
        if (state.State.DueAt is not { } due || due > time.GetUtcNow())
        {
            return;
        }
        switch (state.State.Phase)
        {
            case TransactionPhase.Issuing:
                // An issuance a crash interrupted and nobody retried: whatever it signed was never delivered.
                if (state.State.IssuingCertificateKey is { } orphan)
                {
                    await GrainFactory.GetGrain<ICertificateGrain>(orphan).RevokeAsync(new RevocationRequest(RevocationReason.CessationOfOperation, "issuance interrupted"));
                }
                await FinishKeyUpdateAsync(alias: null, newCertificateConfirmed: false);
                Advance(TransactionEvent.DeadlinePassed);
                break;
            case TransactionPhase.AwaitingConfirmation:
                foreach (PendingCertificate pending in state.State.Pending)
                {
                    await GrainFactory.GetGrain<ICertificateGrain>(pending.Key).RevokeAsync(new RevocationRequest(RevocationReason.CessationOfOperation, "confirm wait time expired"));
                }
                await FinishKeyUpdateAsync(alias: null, newCertificateConfirmed: false);
                Advance(TransactionEvent.DeadlinePassed);
                break;
            case TransactionPhase.Waiting:
                // RFC 9483 §4.4 leaves the wait to the server; an unbounded one would keep the request, the approval entry and
                // the end entity's open enrollment forever.
                await CloseWaitingAsync(TransactionEvent.DeadlinePassed);
                break;
        }
        await PersistAsync();
        LogTimeout(logger, TransactionKey, state.State.ClosedAs?.ToString() ?? "-");
    }

    public Task<TransactionSnapshot> GetSnapshotAsync() => Task.FromResult(new TransactionSnapshot(
        state.State.Phase, state.State.CertificateKeys.ToArray(), state.State.ConfirmDeadline, state.State.ClosedAs));

    /// <summary>
    /// Every phase change: <see cref="TransactionMachine.Next"/> decides where <paramref name="happened"/> leads. When it
    /// closes the transaction, from here on it only answers retransmissions, and its store deletes it once the retention
    /// (<see cref="CmpOptions.RetentionFor"/>) has passed; a request replayed after that is refused by the alias's
    /// messageTime window, never processed anew. Nothing open survives a close: no deadline, no pending certificate, no
    /// issuance to resume.
    /// </summary>
    private void Advance(TransactionEvent happened)
    {
        Transition next = TransactionMachine.Next(state.State.Phase, happened);
        state.State.Phase = next.Phase;
        if (!next.Closes)
        {
            return;
        }
        state.State.ClosedAs = next.Outcome;
        state.State.ConfirmDeadline = null;
        state.State.WaitDeadline = null;
        state.State.Pending = [];
        state.State.IssuingCertificateKey = null;
        state.State.IssuingRequestHash = null;
        state.State.WaitingRequest = null;
        state.State.WaitReason = null;
        CmpOptions settings = options.CurrentValue;
        CmpAliasOptions? alias = settings.Aliases.GetValueOrDefault(TransactionKey[..TransactionKey.IndexOf('/')]);
        state.State.RetainUntil = time.GetUtcNow() + settings.RetentionFor(alias);
    }

    /// <summary>
    /// The persistence step: one write of the state with its deadline and expiry. A closed transaction then leaves memory
    /// at once (a retransmission reads it back from the store); an open one stays for its follow-up.
    /// </summary>
    private async Task PersistAsync()
    {
        await state.WriteStateAsync();
        if (sweeper.TryClaim())
        {
            await ScheduleSweeperAsync();
        }
        if (state.State.Phase == TransactionPhase.Closed)
        {
            DeactivateOnIdle();
        }
    }

    /// <summary>The first transaction on this silo makes sure the deadline sweeper runs; a failure leaves it to the next one.</summary>
    private async Task ScheduleSweeperAsync()
    {
        try
        {
            await GrainFactory.GetGrain<IDeadlineSweeperGrain>(IDeadlineSweeperGrain.DeadlineSweeperKey).EnsureScheduledAsync();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            sweeper.Release();
            LogSweeperNotScheduled(logger, e);
        }
    }

    /// <summary>The transactionID from this grain's key (alias/HEX), for answers to requests that could not be decoded.</summary>
    private byte[] KeyTransactionId() => Convert.FromHexString(TransactionKey[(TransactionKey.LastIndexOf('/') + 1)..]);

    [LoggerMessage(EventId = 201, Level = LogLevel.Error, Message = "cmp alias={Alias} transaction={Transaction} failed internally diagnostic={DiagnosticId}")]
    private static partial void LogFailure(ILogger logger, Exception exception, string alias, string transaction, string diagnosticId);

    [LoggerMessage(EventId = 200, Level = LogLevel.Information,
        Message = "cmp alias={Alias} transaction={Transaction} body={Body} outcome={Outcome} detail={Detail} diagnostic={DiagnosticId} ms={ElapsedMs:F2}")]
    private static partial void LogRequest(ILogger logger, string alias, string transaction, string body, string outcome, string detail, string diagnosticId, double elapsedMs);

    [LoggerMessage(EventId = 205, Level = LogLevel.Warning, Message = "the deadline sweeper's reminder could not be registered; the next transaction tries again")]
    private static partial void LogSweeperNotScheduled(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 203, Level = LogLevel.Warning, Message = "cmp transaction={Transaction}: an authentication failure could not be written to the audit trail")]
    private static partial void LogAuditUnavailable(ILogger logger, string transaction);

    [LoggerMessage(EventId = 202, Level = LogLevel.Information, Message = "cmp transaction={Transaction} deadline passed: {Outcome}")]
    private static partial void LogTimeout(ILogger logger, string transaction, string outcome);
}
