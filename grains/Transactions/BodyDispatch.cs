using CmpCluster.Contracts;

namespace CmpCluster.Grains.Transactions;

public enum BodyRoute
{
    Enrollment = 0,
    Confirmation = 1,
    /// <summary>A request type of RFC 9810 that a later issue builds; answered with badRequest.</summary>
    NotSupportedYet = 2,
    /// <summary>A response or announcement type: a client never sends it; answered with badRequest.</summary>
    NotARequest = 3,
    Revocation = 4,
    /// <summary>genm support messages (RFC 9483 §4.3).</summary>
    General = 5,
    /// <summary>pollReq for a request that was answered "waiting" (RFC 9483 §4.4).</summary>
    Polling = 6,
    /// <summary>nested: an RA's envelope around one or more messages (RFC 9810 §5.1.3.4, RFC 9483 §5.2.2).</summary>
    Nested = 7,
}

/// <summary>Where each PKIBody type goes: one exhaustive switch, so a new type cannot slip through unrouted.</summary>
public static class BodyDispatch
{
    public static BodyRoute Route(PkiBodyType body) => body switch
    {
        PkiBodyType.Ir or PkiBodyType.Cr or PkiBodyType.Kur or PkiBodyType.P10Cr => BodyRoute.Enrollment,
        PkiBodyType.CertConf => BodyRoute.Confirmation,
        PkiBodyType.Rr => BodyRoute.Revocation,
        PkiBodyType.Genm => BodyRoute.General,
        PkiBodyType.PollReq => BodyRoute.Polling,
        PkiBodyType.Nested => BodyRoute.Nested,
        PkiBodyType.Krr or PkiBodyType.Ccr => BodyRoute.NotSupportedYet,
        PkiBodyType.Ip or PkiBodyType.Cp or PkiBodyType.Kup or PkiBodyType.Krp or PkiBodyType.Rp or PkiBodyType.Ccp
            or PkiBodyType.Popdecc or PkiBodyType.Popdecr or PkiBodyType.Ckuann or PkiBodyType.Cann or PkiBodyType.Rann
            or PkiBodyType.Crlann or PkiBodyType.PkiConf or PkiBodyType.Genp or PkiBodyType.Error or PkiBodyType.PollRep => BodyRoute.NotARequest,
        _ => BodyRoute.NotARequest,
    };
}
