// The wire enums of contracts win over BouncyCastle's classes of the same names.
global using PkiFailureInfo = CmpCluster.Contracts.PkiFailureInfo;
global using PkiBodyType = CmpCluster.Contracts.PkiBodyType;
global using CmpCluster.Grains.Internal;
