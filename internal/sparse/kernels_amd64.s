//go:build !noasm

#include "textflag.h"

// Sparse-weight kernels, AVX2 + FMA (see kernels_amd64.go). Column
// indices are non-negative int32, so MOVL's zero extension gives the
// 64-bit index.

// Horizontal sum of Y0 into X0 (clobbers X1).
#define HSUM_Y0 \
	VEXTRACTF128 $1, Y0, X1; \
	VADDPS       X1, X0, X0; \
	VHADDPS      X0, X0, X0; \
	VHADDPS      X0, X0, X0

// func csrDotAVX2(val *float32, col *int32, n int, x *float32) float32
TEXT ·csrDotAVX2(SB), NOSPLIT, $0-36
	MOVQ   val+0(FP), SI
	MOVQ   col+8(FP), DI
	MOVQ   n+16(FP), CX
	MOVQ   x+24(FP), DX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1

csrDot16:
	CMPQ        CX, $16
	JLT         csrDot8
	VMOVDQU     (DI), Y2
	VMOVDQU     32(DI), Y3
	VPCMPEQD    Y4, Y4, Y4
	VPCMPEQD    Y5, Y5, Y5
	VGATHERDPS  Y4, (DX)(Y2*4), Y6
	VGATHERDPS  Y5, (DX)(Y3*4), Y7
	VFMADD231PS (SI), Y6, Y0
	VFMADD231PS 32(SI), Y7, Y1
	ADDQ        $64, SI
	ADDQ        $64, DI
	SUBQ        $16, CX
	JMP         csrDot16

csrDot8:
	CMPQ        CX, $8
	JLT         csrDotReduce
	VMOVDQU     (DI), Y2
	VPCMPEQD    Y4, Y4, Y4
	VGATHERDPS  Y4, (DX)(Y2*4), Y6
	VFMADD231PS (SI), Y6, Y0
	ADDQ        $32, SI
	ADDQ        $32, DI
	SUBQ        $8, CX

csrDotReduce:
	VADDPS Y1, Y0, Y0
	HSUM_Y0

csrDotTail:
	TESTQ       CX, CX
	JZ          csrDotDone
	MOVL        (DI), AX
	VMOVSS      (DX)(AX*4), X1
	VFMADD231SS (SI), X1, X0
	ADDQ        $4, SI
	ADDQ        $4, DI
	DECQ        CX
	JMP         csrDotTail

csrDotDone:
	VZEROUPPER
	MOVSS X0, ret+32(FP)
	RET

// func panelRowAVX2(out *float32, n8 int, val *float32, col *int32, nnz int, p *float32, ldp int)
// R10 = ldp in bytes, DX = p at the current column tile, R11 = k.
TEXT ·panelRowAVX2(SB), NOSPLIT, $0-56
	MOVQ out+0(FP), DI
	MOVQ n8+8(FP), CX
	MOVQ val+16(FP), SI
	MOVQ col+24(FP), R8
	MOVQ nnz+32(FP), R9
	MOVQ p+40(FP), DX
	MOVQ ldp+48(FP), R10
	SHLQ $2, R10

panel64:
	CMPQ   CX, $64
	JLT    panel32
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	XORQ   R11, R11

panel64K:
	CMPQ         R11, R9
	JGE          panel64Store
	MOVL         (R8)(R11*4), AX
	IMULQ        R10, AX
	ADDQ         DX, AX
	VBROADCASTSS (SI)(R11*4), Y15
	VFMADD231PS  (AX), Y15, Y0
	VFMADD231PS  32(AX), Y15, Y1
	VFMADD231PS  64(AX), Y15, Y2
	VFMADD231PS  96(AX), Y15, Y3
	VFMADD231PS  128(AX), Y15, Y4
	VFMADD231PS  160(AX), Y15, Y5
	VFMADD231PS  192(AX), Y15, Y6
	VFMADD231PS  224(AX), Y15, Y7
	INCQ         R11
	JMP          panel64K

panel64Store:
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	VMOVUPS Y4, 128(DI)
	VMOVUPS Y5, 160(DI)
	VMOVUPS Y6, 192(DI)
	VMOVUPS Y7, 224(DI)
	ADDQ    $256, DI
	ADDQ    $256, DX
	SUBQ    $64, CX
	JMP     panel64

panel32:
	CMPQ   CX, $32
	JLT    panel8
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	XORQ   R11, R11

panel32K:
	CMPQ         R11, R9
	JGE          panel32Store
	MOVL         (R8)(R11*4), AX
	IMULQ        R10, AX
	ADDQ         DX, AX
	VBROADCASTSS (SI)(R11*4), Y15
	VFMADD231PS  (AX), Y15, Y0
	VFMADD231PS  32(AX), Y15, Y1
	VFMADD231PS  64(AX), Y15, Y2
	VFMADD231PS  96(AX), Y15, Y3
	INCQ         R11
	JMP          panel32K

panel32Store:
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ    $128, DI
	ADDQ    $128, DX
	SUBQ    $32, CX
	JMP     panel32

// Tiles of 8: two accumulators (even and odd k) so that consecutive FMAs
// do not wait on each other.
panel8:
	CMPQ   CX, $8
	JLT    panelDone
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	XORQ   R11, R11

panel8K:
	LEAQ         1(R11), BX
	CMPQ         BX, R9
	JGE          panel8Last
	MOVL         (R8)(R11*4), AX
	IMULQ        R10, AX
	VBROADCASTSS (SI)(R11*4), Y15
	VFMADD231PS  (DX)(AX*1), Y15, Y0
	MOVL         (R8)(BX*4), AX
	IMULQ        R10, AX
	VBROADCASTSS (SI)(BX*4), Y14
	VFMADD231PS  (DX)(AX*1), Y14, Y1
	ADDQ         $2, R11
	JMP          panel8K

panel8Last:
	CMPQ         R11, R9
	JGE          panel8Store
	MOVL         (R8)(R11*4), AX
	IMULQ        R10, AX
	VBROADCASTSS (SI)(R11*4), Y15
	VFMADD231PS  (DX)(AX*1), Y15, Y0

panel8Store:
	VADDPS  Y1, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, DI
	ADDQ    $32, DX
	SUBQ    $8, CX
	JMP     panel8

panelDone:
	VZEROUPPER
	RET

// func bsr1x8DotAVX2(val *float32, bcol *int32, nb int, x *float32) float32
TEXT ·bsr1x8DotAVX2(SB), NOSPLIT, $0-36
	MOVQ   val+0(FP), SI
	MOVQ   bcol+8(FP), DI
	MOVQ   nb+16(FP), CX
	MOVQ   x+24(FP), DX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1

bsr2:
	CMPQ        CX, $2
	JLT         bsr1
	MOVL        (DI), AX
	MOVL        4(DI), BX
	VMOVUPS     (SI), Y2
	VMOVUPS     32(SI), Y3
	VFMADD231PS (DX)(AX*4), Y2, Y0
	VFMADD231PS (DX)(BX*4), Y3, Y1
	ADDQ        $64, SI
	ADDQ        $8, DI
	SUBQ        $2, CX
	JMP         bsr2

bsr1:
	TESTQ       CX, CX
	JZ          bsrReduce
	MOVL        (DI), AX
	VMOVUPS     (SI), Y2
	VFMADD231PS (DX)(AX*4), Y2, Y0

bsrReduce:
	VADDPS Y1, Y0, Y0
	HSUM_Y0
	VZEROUPPER
	MOVSS  X0, ret+32(FP)
	RET

// func nmDotAVX2(val *float32, pos *uint8, cnt int, x *float32, base *[8]int32, step int) float32
// Y8 = the lanes' group offsets, Y9 = step in every lane.
TEXT ·nmDotAVX2(SB), NOSPLIT, $0-52
	MOVQ         val+0(FP), SI
	MOVQ         pos+8(FP), DI
	MOVQ         cnt+16(FP), CX
	MOVQ         x+24(FP), DX
	MOVQ         base+32(FP), AX
	VMOVDQU      (AX), Y8
	MOVQ         step+40(FP), AX
	MOVQ         AX, X9
	VPBROADCASTD X9, Y9
	VPADDD       Y9, Y9, Y10
	VXORPS       Y0, Y0, Y0
	VXORPS       Y1, Y1, Y1

nm16:
	CMPQ        CX, $16
	JLT         nm8
	VPMOVZXBD   (DI), Y2
	VPMOVZXBD   8(DI), Y3
	VPADDD      Y8, Y2, Y2
	VPADDD      Y8, Y3, Y3
	VPADDD      Y9, Y3, Y3
	VPCMPEQD    Y4, Y4, Y4
	VPCMPEQD    Y5, Y5, Y5
	VGATHERDPS  Y4, (DX)(Y2*4), Y6
	VGATHERDPS  Y5, (DX)(Y3*4), Y7
	VFMADD231PS (SI), Y6, Y0
	VFMADD231PS 32(SI), Y7, Y1
	VPADDD      Y10, Y8, Y8
	ADDQ        $64, SI
	ADDQ        $16, DI
	SUBQ        $16, CX
	JMP         nm16

nm8:
	CMPQ        CX, $8
	JLT         nmReduce
	VPMOVZXBD   (DI), Y2
	VPADDD      Y8, Y2, Y2
	VPCMPEQD    Y4, Y4, Y4
	VGATHERDPS  Y4, (DX)(Y2*4), Y6
	VFMADD231PS (SI), Y6, Y0

nmReduce:
	VADDPS Y1, Y0, Y0
	HSUM_Y0
	VZEROUPPER
	MOVSS  X0, ret+48(FP)
	RET
